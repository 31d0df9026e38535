export type { InfialignCurationOptions, InfialignCurationStages } from "./infialignCurationStages.js";
export { infialignCurationStages } from "./infialignCurationStages.js";
