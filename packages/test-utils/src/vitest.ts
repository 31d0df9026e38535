// Helpers that need the vitest runtime, kept off the main entry so benches and scripts can import that without vitest.
export type { RenderedPage } from "./chromium.js";
export { renderInChromium } from "./chromium.js";
export type { Missing } from "./prerequisites.js";
export { describeWhen, firstMissing, itWhen, missingCommand, missingFile, packageFile, requireOrSkip, sharedDataFile } from "./prerequisites.js";
export type { ReadmeSuiteOptions } from "./readmeSuite.js";
export { describeReadme } from "./readmeSuite.js";
