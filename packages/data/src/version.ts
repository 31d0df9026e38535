import pkg from "../package.json" with { type: "json" };

/** This package's version, recorded in manifests. */
export const VERSION: string = pkg.version;
