// The page registry: one import and one entry in PAGES per page (see src/werk/web/__init__.py).
import login from "./login.js";
import overview from "./overview.js";
import asset from "./asset.js";
import oee from "./oee.js";
import benchmark from "./benchmark.js";
import predictions from "./predictions.js";
import edge from "./edge.js";
import sharing from "./sharing.js";

export const PAGES = [login, overview, asset, oee, benchmark, predictions, edge, sharing];
