/** The web console: its files and routes (server side), and the pure modules its pages load. */
export { registerConsole, isConsolePath } from './routes.js';
export { ASSETS, ConsoleAssets } from './assets.js';
export { buildForms, buildRule, matchValue, fieldOf, rowAtLine, type Forms, type MatchForm, type StatementForm, type FieldForm, type RuleDraft, type BuiltRule, type SchemaEntry } from './forms.js';
export { SseParser, type SseEvent } from './sse-parser.js';
export { ratesBetween, SeriesWindow } from './rates.js';
