// The pickle reader lives with the LiveCodeBench parser in @infialign/data.
export { PickleError, readPickledString } from "@infialign/data";
