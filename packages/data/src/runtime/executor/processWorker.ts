// Entry of a processes-executor worker (forked by createProcessExecutor).
import { serveProcessWorker } from "./processes.js";

serveProcessWorker();
