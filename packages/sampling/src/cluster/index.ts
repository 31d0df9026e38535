export { type ChooseKOptions, chooseK, DEFAULT_KMEANS_CONFIG, type KMeansConfig, MINI_BATCH_AUTO_THRESHOLD, PARALLEL_MIN_ROWS, resolveKMeansConfig } from "./config.js";
export { kmeansPlusPlus } from "./kmeansPlusPlus.js";
export { nearestCentroid } from "./nearestCentroid.js";
export { type KMeansProgress, type KMeansResult, type SphericalKMeansOptions, sphericalKMeans } from "./sphericalKMeans.js";
