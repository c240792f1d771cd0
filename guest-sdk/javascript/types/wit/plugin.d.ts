// world hookgate:plugin/plugin@0.2.0
export type Event = import('./interfaces/hookgate-plugin-types.js').Event;
export type Action = import('./interfaces/hookgate-plugin-types.js').Action;
export type PluginError = import('./interfaces/hookgate-plugin-types.js').PluginError;
export type * as HookgatePluginConfig020 from './interfaces/hookgate-plugin-config.js'; // import hookgate:plugin/config@0.2.0
export type * as HookgatePluginEndpoints020 from './interfaces/hookgate-plugin-endpoints.js'; // import hookgate:plugin/endpoints@0.2.0
export type * as HookgatePluginLog020 from './interfaces/hookgate-plugin-log.js'; // import hookgate:plugin/log@0.2.0
export type * as HookgatePluginTypes020 from './interfaces/hookgate-plugin-types.js'; // import hookgate:plugin/types@0.2.0
/**
* Handles one event. Return `ok` with what to do, or `err` with a
* deliberate error. A trap (panic, limit exceeded) is reported by the
* gateway as a separate class of failure.
*/
export function handle(event: Event): Action;
