"""Simulate a car maker's plant fleet behind real shop-floor protocols, with exact ground truth.

The simulator depends only on ``werk.samples``, ``werk.assets`` and ``werk.errors``, never on the
platform. Its parts, from the fleet file to what leaves the simulator:

==================  ==========================================================================
``config``          the fleet file (YAML): validated, errors with file, line and field
``catalog``         machine types: signals, failure modes, scrap, wear and drift figures
``calendar``        shift patterns laid onto real days in the plant's time zone (DST-exact)
``fleet``           the resolved fleet, deterministic from the seed: :func:`fleet.load_fleet`
``line``            the discrete-event engine of one line (stations, buffers, ISO 22400 states)
``journal``         what each machine did: the one source of events, truth, views and signals
``signals``         journal → sampled signal values, vectorised, block by block
``events``          journal → EVENT_SCHEMA events (states, counts, late scrap, orders, alarms)
``truth``           journal → ground-truth tables
``site``            one site's engines and generators, shared by history and live mode
``history``         days of samples, events and truth straight to Parquet:
                    :func:`history.write_history`
``runtime``         the live fleet behind :mod:`view`'s protocols: :class:`runtime.Runtime`
``view``            what the protocol servers (``servers``) read
==================  ==========================================================================

Nothing is imported here, so the servers can read ``werk.sim.view`` without numpy or pyarrow.
"""
