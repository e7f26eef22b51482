/** Helpers shared by the node's tests (never imported by the node itself). */
export { rng } from './rng.js';
