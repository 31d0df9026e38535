export { gradeChoice } from "./gradeChoice.js";
export { extractPythonBlock, type GradeCodeOptions, gradeCode } from "./gradeCode.js";
export { gradeMath } from "./gradeMath.js";
