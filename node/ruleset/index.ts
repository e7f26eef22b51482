/**
 * node/ruleset: the nftables-style rule engine. Language (text and libnftables JSON),
 * module registry, validation, compiler, transactions with generations and events.
 */
export type * from './ast.js';
export { RulesetError, type ErrorItem, type Pos } from './errors.js';
export { ClassifyContext, Hook, Verdict, RejectKind, IcmpxCode, type LogSink, type LogLine, type LogLevel } from './context.js';
export { InterfaceNames } from './interface-names.js';
export type { FlowtableState } from './flowtables.js';
export { RulesetEngine, StalePrepareError, type EngineOptions, type ChangeEvent, type CommitResult, type CommitTouched } from './engine.js';
export { DEFAULT_LIMITS, NO_LIMITS, formatBytes, type RulesetLimits } from './limits.js';
export { CompiledRuleset } from './compiled-ruleset.js';
export type { Change } from './transaction.js';
export { expandIncludes, SourceMap, DEFAULT_INCLUDE_PATH, MAX_INCLUDE_DEPTH, type Expanded, type IncludeOptions } from './includes.js';
export { checkRuleset, convertRuleset, type CheckResult } from './check.js';
export { describeModules, formatSchema, type ModuleSchema } from './schema.js';
export { formatEvent, formatChange } from './monitor.js';
export { Registry, type MatchModule, type StatementModule, type CounterCell } from './registry.js';
export { builtinRegistry, registerBuiltins } from './modules/index.js';
export type { DataType } from './data-types.js';
export { INET_PROTO } from './data-types.js';
export { MAX_JUMP_DEPTH } from './validate.js';
export type { ChainState, RulesetState, TableState } from './state.js';
export type { TraceSink, FibRoutes, LocalAddressView } from './context.js';
export {
  HOOK_NAMES, MAX_TRACE_STEPS, MAX_TRACE_FILTER_LENGTH, TraceFilterError, compileTraceFilter,
  type TraceSession, type TracePacketJson, type TraceStepJson, type TraceRecord, type TraceRecordOut,
} from './trace.js';
