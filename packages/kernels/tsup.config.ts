import { readFile } from "node:fs/promises";
import { build, defineConfig, type Options } from "tsup";
import { libraryConfigs } from "../../tsup.config.base";

type Plugin = NonNullable<Options["esbuildPlugins"]>[number];

/**
 * registerTfjsGradients (src/tfjs/gradients.ts) needs tfjs-core's gradient configs in plain Node, where
 * register_all_gradients.js cannot be imported (extensionless ESM in a CommonJS package). We bundle that module on its
 * own into dist/tfjs-gradients.cjs (it only imports tfjs-core files by relative path, so the bundle is self-contained)
 * and replace its closing registration loop with an export of the list, so that registering is the caller's choice and
 * the 0.3 MB bundle is read only when asked for. Fails the build if a tfjs release changes the file's shape.
 */
const exportGradientConfigs: Plugin = {
  name: "export-tfjs-gradient-configs",
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /tfjs-core[\\/]dist[\\/]register_all_gradients\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const loop = /for \(const gradientConfig of gradConfigs\) \{\s*registerGradient\(gradientConfig\);\s*\}/;
      if (!loop.test(source)) throw new Error(`${args.path}: the registration loop over gradConfigs was not found; update tsup.config.ts for this @tensorflow/tfjs-core version.`);
      return { contents: source.replace(loop, "export { gradConfigs };"), loader: "js" };
    });
  },
};

/** CommonJS only (gradients.ts loads it with require, from the ESM and the CJS build alike), no types, no source map. */
const gradientsBundle: Options = {
  config: false,
  entry: { "tfjs-gradients": "node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js" },
  format: ["cjs"],
  target: "node20",
  outDir: "dist",
  clean: false,
  dts: false,
  sourcemap: false,
  silent: true,
  esbuildPlugins: [exportGradientConfigs],
};

// Two entry points: the dependency-free vector kernels, and the TensorFlow.js side (optional peers) under "./tfjs";
// then the gradient bundle ./tfjs loads on demand (not an export of the package), built after the first build (the one
// that cleans dist), so that its `clean` cannot remove it.
const [first, ...rest] = libraryConfigs({ index: "src/index.ts", tfjs: "src/tfjs/index.ts" });
export default defineConfig([
  {
    ...first,
    onSuccess: async () => {
      await build(gradientsBundle);
    },
  },
  ...rest,
]);
