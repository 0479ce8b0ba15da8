// The manifest package: fog/v1 YAML → typed, normalised objects, or located errors.

export { loadDesired, loadText, findFiles, DEFAULT_PATH } from './load.js';
export { formatError, ERROR_CODES, type ErrorCode } from './errors.js';
export { serializeObject } from './serialize.js';
export { LIMITS } from './limits.js';
export { DEFAULTS, SECRET_NAME } from './normalise.js';
export { NODE_SCHEMA, SERVICE_SCHEMA, KIND_SCHEMAS, KINDS, type Kind } from './schema.js';
