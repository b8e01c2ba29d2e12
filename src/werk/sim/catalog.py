"""Describe the machine types the simulator knows: signals, failure modes, scrap and wear.

Each :class:`TypeModel` is pure data. The engine (:mod:`werk.sim.line`) reads its reliability and
quality figures; the signal generator (:mod:`werk.sim.signals`) reads its :class:`SignalModel`
rows. Figures are plausible for car-body and powertrain shops, not measured on any real machine.

A signal's level depends on the machine state's *category*: running (executing), idle (powered but
not making parts: setup, stops, waiting, breaks) and off (no shift, planned maintenance). On top
come product load, ambient temperature and humidity, wear (which raises vibration, temperature and
current before a wear-out failure), process drift (which moves process values and raises scrap),
a per-site sensor offset and noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Final

from werk.sim.view import SignalSpec


class MachineType(StrEnum):
    """The kinds of machine a simulated line is built from."""

    PRESS = "press"
    WELDING_ROBOT = "welding_robot"
    CNC_CELL = "cnc_cell"
    PAINT_BOOTH = "paint_booth"
    ASSEMBLY_STATION = "assembly_station"
    TIGHTENING_STATION = "tightening_station"


@dataclass(frozen=True, slots=True)
class SignalModel:
    """How one signal of a machine type responds to state, load, environment, wear and drift.

    Attributes:
        spec: Name, unit and physical range (values are clipped to it).
        run: Level while executing.
        idle: Level while powered but not making parts.
        off: Level with no shift or in planned maintenance.
        load: Relative change of the running level per unit of product load above 1.
        lag: Thermal time constant; zero for signals that follow the state at once.
        ambient: Change per kelvin of ambient temperature above 20 °C.
        humidity: Change per %RH of ambient humidity above 50 %RH.
        wear: Added at wear 1.0 (scaled by wear squared, so it shows late), unless off.
        drift: Added per unit of process drift while executing.
        noise: Standard deviation of the measurement noise while executing.
        resolution: The sensor's resolution, a power of ten; values are rounded to it.
        integrates: Name of the signal (a power, kW) this one integrates into kWh.
    """

    spec: SignalSpec
    run: float
    idle: float
    off: float
    load: float = 0.0
    lag: timedelta = timedelta(0)
    ambient: float = 0.0
    humidity: float = 0.0
    wear: float = 0.0
    drift: float = 0.0
    noise: float = 0.0
    resolution: float = 0.01
    integrates: str | None = None


@dataclass(frozen=True, slots=True)
class FailureMode:
    """A way a machine breaks down: its reason code, how often, how long to repair."""

    reason: str
    weight: float
    repair: timedelta
    """Median time to restoration (log-normally spread)."""
    plc_restart: bool = False
    """The controller restarts after the repair, which resets its part counters."""


@dataclass(frozen=True, slots=True)
class TypeModel:
    """Everything the simulator knows about one machine type."""

    type: MachineType
    signals: tuple[SignalModel, ...]
    vendors: tuple[str, ...]
    setup: timedelta
    """Median changeover time when the product changes."""
    mtbf: timedelta
    """Mean executing time between random (unpredictable) failures."""
    wear_life: timedelta
    """Mean executing time from a new wear part to its wear-out failure."""
    wear_failure: FailureMode
    failures: tuple[FailureMode, ...]
    micro_mtb: timedelta
    """Mean executing time between micro-stops."""
    micro_median: timedelta
    micro_reasons: tuple[str, ...]
    scrap_rate: float
    """Share of parts scrapped at the machine with no process drift."""
    late_rate: float
    """Share of parts with a latent defect found at end-of-line inspection, with no drift."""
    scrap_reason: str
    late_reason: str
    drift_mtb: timedelta = timedelta(hours=14)
    """Mean executing time between the starts of process-drift episodes."""
    drift_rise: timedelta = timedelta(hours=3)
    """Executing time a drift episode takes to reach one unit (where scrap rises clearly)."""

    @property
    def signal_specs(self) -> tuple[SignalSpec, ...]:
        """The signal specs in the fixed order of :attr:`signals`."""
        return tuple(s.spec for s in self.signals)


def _power(run: float, idle: float, off: float, noise: float) -> tuple[SignalModel, SignalModel]:
    """Return the active-power signal and the energy meter that integrates it."""
    return (
        SignalModel(
            SignalSpec("power", "kW", 0.0, round(run * 3, -1)),
            run,
            idle,
            off,
            load=0.2,
            wear=run * 0.06,
            noise=noise,
        ),
        SignalModel(
            SignalSpec("energy", "kWh", 0.0, 1e9),
            0.0,
            0.0,
            0.0,
            resolution=0.001,
            integrates="power",
        ),
    )


_MIN = timedelta(minutes=1)
_H = timedelta(hours=1)
_S = timedelta(seconds=1)

# fmt: off
CATALOG: Final[Mapping[MachineType, TypeModel]] = {
    MachineType.PRESS: TypeModel(
        type=MachineType.PRESS,
        signals=(
            SignalModel(SignalSpec("hydraulic_pressure", "bar", 0.0, 400.0), 210.0, 40.0, 0.0,
                        load=0.15, drift=12.0, noise=3.0, resolution=0.1),
            SignalModel(SignalSpec("ram_force", "kN", 0.0, 10000.0), 6000.0, 0.0, 0.0,
                        load=0.25, drift=150.0, noise=80.0, resolution=1.0),
            SignalModel(SignalSpec("oil_temp", "degC", 0.0, 100.0), 48.0, 38.0, 20.0,
                        lag=30 * _MIN, ambient=0.6, wear=8.0, noise=0.2),
            SignalModel(SignalSpec("vibration_rms", "mm/s", 0.0, 50.0), 3.2, 0.6, 0.05,
                        load=0.2, wear=6.0, noise=0.35),
            SignalModel(SignalSpec("motor_current", "A", 0.0, 600.0), 180.0, 35.0, 0.0,
                        load=0.2, wear=15.0, noise=6.0, resolution=0.1),
            *_power(160.0, 25.0, 1.5, 4.0),
        ),
        vendors=("Schuler", "AIDA", "Komatsu"),
        setup=14 * _MIN,
        mtbf=40 * _H,
        wear_life=90 * _H,
        wear_failure=FailureMode("hydraulic_pump_wear", 1.0, 150 * _MIN),
        failures=(
            FailureMode("die_crack", 2.0, 90 * _MIN),
            FailureMode("hydraulic_leak", 3.0, 45 * _MIN),
            FailureMode("safety_circuit", 4.0, 8 * _MIN),
            FailureMode("plc_fault", 1.0, 6 * _MIN, plc_restart=True),
        ),
        micro_mtb=30 * _MIN,
        micro_median=20 * _S,
        micro_reasons=("blank_misfeed", "double_blank", "light_curtain"),
        scrap_rate=0.004,
        late_rate=0.003,
        scrap_reason="split",
        late_reason="surface_defect",
    ),
    MachineType.WELDING_ROBOT: TypeModel(
        type=MachineType.WELDING_ROBOT,
        signals=(
            SignalModel(SignalSpec("weld_current", "A", 0.0, 500.0), 230.0, 0.0, 0.0,
                        load=0.1, drift=18.0, noise=6.0, resolution=0.1),
            SignalModel(SignalSpec("weld_voltage", "V", 0.0, 50.0), 24.5, 0.0, 0.0,
                        drift=1.2, noise=0.4),
            SignalModel(SignalSpec("wire_feed_speed", "m/min", 0.0, 25.0), 9.5, 0.0, 0.0,
                        drift=0.5, noise=0.15),
            SignalModel(SignalSpec("torch_temp", "degC", 0.0, 150.0), 65.0, 35.0, 20.0,
                        lag=10 * _MIN, ambient=0.8, wear=12.0, noise=0.4),
            SignalModel(SignalSpec("vibration_rms", "mm/s", 0.0, 30.0), 1.8, 0.3, 0.02,
                        wear=4.0, noise=0.2),
            SignalModel(SignalSpec("motor_current", "A", 0.0, 50.0), 9.5, 2.0, 0.0,
                        load=0.15, wear=2.5, noise=0.4),
            *_power(14.0, 1.2, 0.2, 0.5),
        ),
        vendors=("KUKA", "FANUC", "ABB", "Yaskawa"),
        setup=5 * _MIN,
        mtbf=30 * _H,
        wear_life=70 * _H,
        wear_failure=FailureMode("contact_tip_wear", 1.0, 40 * _MIN),
        failures=(
            FailureMode("wire_feed_fault", 3.0, 20 * _MIN),
            FailureMode("gas_supply_low", 2.0, 15 * _MIN),
            FailureMode("servo_fault", 1.0, 70 * _MIN),
            FailureMode("collision", 1.0, 50 * _MIN),
            FailureMode("plc_fault", 1.0, 5 * _MIN, plc_restart=True),
        ),
        micro_mtb=25 * _MIN,
        micro_median=15 * _S,
        micro_reasons=("part_not_in_position", "torch_clean", "fixture_sensor"),
        scrap_rate=0.005,
        late_rate=0.004,
        scrap_reason="weld_nok",
        late_reason="weak_weld",
    ),
    MachineType.CNC_CELL: TypeModel(
        type=MachineType.CNC_CELL,
        signals=(
            SignalModel(SignalSpec("spindle_load", "%", 0.0, 150.0), 62.0, 3.0, 0.0,
                        load=0.3, wear=9.0, drift=6.0, noise=2.5),
            SignalModel(SignalSpec("spindle_speed", "rpm", 0.0, 24000.0), 12000.0, 0.0, 0.0,
                        load=-0.1, noise=30.0, resolution=1.0),
            SignalModel(SignalSpec("spindle_temp", "degC", 0.0, 120.0), 42.0, 30.0, 20.0,
                        lag=20 * _MIN, ambient=0.7, wear=14.0, noise=0.25),
            SignalModel(SignalSpec("vibration_rms", "mm/s", 0.0, 40.0), 2.4, 0.4, 0.03,
                        load=0.1, wear=7.0, noise=0.3),
            SignalModel(SignalSpec("coolant_temp", "degC", 0.0, 80.0), 26.0, 23.0, 20.0,
                        lag=40 * _MIN, ambient=0.9, noise=0.15),
            SignalModel(SignalSpec("motor_current", "A", 0.0, 200.0), 48.0, 6.0, 0.0,
                        load=0.25, wear=6.0, noise=1.5),
            *_power(28.0, 4.0, 0.3, 0.8),
        ),
        vendors=("DMG MORI", "Mazak", "Okuma", "Heller"),
        setup=18 * _MIN,
        mtbf=45 * _H,
        wear_life=110 * _H,
        wear_failure=FailureMode("spindle_bearing_wear", 1.0, 240 * _MIN),
        failures=(
            FailureMode("tool_breakage", 4.0, 15 * _MIN),
            FailureMode("coolant_pump_fault", 2.0, 40 * _MIN),
            FailureMode("axis_servo_fault", 1.0, 90 * _MIN),
            FailureMode("plc_fault", 1.0, 7 * _MIN, plc_restart=True),
        ),
        micro_mtb=40 * _MIN,
        micro_median=30 * _S,
        micro_reasons=("chip_clearing", "probe_retry", "door_interlock"),
        scrap_rate=0.006,
        late_rate=0.004,
        scrap_reason="dimension_nok",
        late_reason="bore_out_of_tolerance",
    ),
    MachineType.PAINT_BOOTH: TypeModel(
        type=MachineType.PAINT_BOOTH,
        signals=(
            SignalModel(SignalSpec("booth_temp", "degC", 0.0, 60.0), 23.0, 22.0, 20.0,
                        lag=15 * _MIN, ambient=0.25, noise=0.1),
            SignalModel(SignalSpec("booth_humidity", "%RH", 0.0, 100.0), 62.0, 60.0, 50.0,
                        humidity=0.35, drift=4.0, noise=0.6, resolution=0.1),
            SignalModel(SignalSpec("air_flow", "m/s", 0.0, 2.0), 0.45, 0.3, 0.0,
                        wear=-0.08, noise=0.01, resolution=0.001),
            SignalModel(SignalSpec("paint_flow", "ml/min", 0.0, 1000.0), 420.0, 0.0, 0.0,
                        load=0.2, drift=25.0, noise=6.0, resolution=0.1),
            SignalModel(SignalSpec("fan_vibration_rms", "mm/s", 0.0, 30.0), 2.1, 1.6, 0.02,
                        wear=5.0, noise=0.2),
            SignalModel(SignalSpec("fan_motor_current", "A", 0.0, 100.0), 38.0, 30.0, 0.0,
                        wear=5.0, noise=0.8),
            *_power(110.0, 85.0, 2.0, 2.0),
        ),
        vendors=("Dürr", "Eisenmann", "Geico"),
        setup=9 * _MIN,
        mtbf=60 * _H,
        wear_life=130 * _H,
        wear_failure=FailureMode("fan_bearing_wear", 1.0, 180 * _MIN),
        failures=(
            FailureMode("nozzle_clog", 4.0, 12 * _MIN),
            FailureMode("temperature_control_fault", 1.0, 60 * _MIN),
            FailureMode("conveyor_fault", 2.0, 35 * _MIN),
            FailureMode("plc_fault", 1.0, 8 * _MIN, plc_restart=True),
        ),
        micro_mtb=45 * _MIN,
        micro_median=25 * _S,
        micro_reasons=("carrier_misaligned", "door_open", "color_valve"),
        scrap_rate=0.008,
        late_rate=0.006,
        scrap_reason="run_sag",
        late_reason="orange_peel",
    ),
    MachineType.ASSEMBLY_STATION: TypeModel(
        type=MachineType.ASSEMBLY_STATION,
        signals=(
            SignalModel(SignalSpec("conveyor_speed", "m/min", 0.0, 30.0), 9.0, 0.0, 0.0,
                        noise=0.1),
            SignalModel(SignalSpec("air_pressure", "bar", 0.0, 10.0), 6.1, 6.3, 0.0,
                        drift=-0.35, noise=0.05, resolution=0.001),
            SignalModel(SignalSpec("gripper_force", "N", 0.0, 500.0), 180.0, 0.0, 0.0,
                        load=0.2, drift=20.0, noise=4.0, resolution=0.1),
            SignalModel(SignalSpec("vibration_rms", "mm/s", 0.0, 20.0), 1.2, 0.4, 0.02,
                        wear=4.0, noise=0.15),
            SignalModel(SignalSpec("motor_current", "A", 0.0, 40.0), 7.5, 2.5, 0.0,
                        load=0.2, wear=2.0, noise=0.3),
            SignalModel(SignalSpec("motor_temp", "degC", 0.0, 120.0), 52.0, 36.0, 20.0,
                        lag=25 * _MIN, ambient=0.7, wear=10.0, noise=0.3),
            *_power(6.0, 2.0, 0.1, 0.2),
        ),
        vendors=("Bosch Rexroth", "Festo", "ATS"),
        setup=4 * _MIN,
        mtbf=50 * _H,
        wear_life=120 * _H,
        wear_failure=FailureMode("conveyor_gearbox_wear", 1.0, 120 * _MIN),
        failures=(
            FailureMode("gripper_fault", 3.0, 15 * _MIN),
            FailureMode("vision_fault", 2.0, 10 * _MIN),
            FailureMode("pneumatic_leak", 2.0, 30 * _MIN),
            FailureMode("plc_fault", 1.0, 5 * _MIN, plc_restart=True),
        ),
        micro_mtb=20 * _MIN,
        micro_median=12 * _S,
        micro_reasons=("missing_component", "operator_acknowledge", "scanner_retry"),
        scrap_rate=0.003,
        late_rate=0.003,
        scrap_reason="assembly_nok",
        late_reason="missing_clip",
    ),
    MachineType.TIGHTENING_STATION: TypeModel(
        type=MachineType.TIGHTENING_STATION,
        signals=(
            SignalModel(SignalSpec("torque", "Nm", 0.0, 300.0), 120.0, 0.0, 0.0,
                        load=0.3, drift=6.0, noise=1.2),
            SignalModel(SignalSpec("angle", "deg", 0.0, 720.0), 270.0, 0.0, 0.0,
                        drift=-12.0, noise=5.0, resolution=0.1),
            SignalModel(SignalSpec("tool_temp", "degC", 0.0, 100.0), 41.0, 31.0, 20.0,
                        lag=15 * _MIN, ambient=0.7, wear=9.0, noise=0.25),
            SignalModel(SignalSpec("motor_current", "A", 0.0, 60.0), 14.0, 1.0, 0.0,
                        load=0.3, wear=3.0, noise=0.5),
            SignalModel(SignalSpec("vibration_rms", "mm/s", 0.0, 20.0), 1.0, 0.2, 0.01,
                        wear=3.5, noise=0.12),
            *_power(2.2, 0.4, 0.05, 0.08),
        ),
        vendors=("Atlas Copco", "Bosch Rexroth", "Apex"),
        setup=3 * _MIN,
        mtbf=55 * _H,
        wear_life=100 * _H,
        wear_failure=FailureMode("nutrunner_gearbox_wear", 1.0, 90 * _MIN),
        failures=(
            FailureMode("transducer_fault", 2.0, 20 * _MIN),
            FailureMode("socket_break", 3.0, 8 * _MIN),
            FailureMode("controller_fault", 1.0, 45 * _MIN),
            FailureMode("plc_fault", 1.0, 4 * _MIN, plc_restart=True),
        ),
        micro_mtb=22 * _MIN,
        micro_median=10 * _S,
        micro_reasons=("socket_not_engaged", "rundown_retry", "operator_acknowledge"),
        scrap_rate=0.004,
        late_rate=0.005,
        scrap_reason="torque_nok",
        late_reason="loose_joint",
    ),
}
# fmt: on
"""The built-in machine types. Figures are plausible defaults, not measurements."""
