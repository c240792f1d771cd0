// An in-process host, so a plugin's tests run natively with `node --test`.
// It stands in for the gateway's host functions only (configuration, the
// endpoint list, logging); it does not enforce the gateway's limits: run
// the built component with `hookgate plugin run` for those.

import { PluginError } from "./errors.js";
import { install } from "./host.js";
import { checked, registered } from "./index.js";

/** Configuration and endpoints for running a handler in-process. */
export class TestHost {
  constructor({ config = {}, endpoints = [] } = {}) {
    this.config = { ...config };
    this.endpoints = [...endpoints];
  }

  /** A copy of this host with one more configuration key. */
  withConfig(key, value) {
    return new TestHost({ config: { ...this.config, [key]: value }, endpoints: this.endpoints });
  }

  /** A copy of this host with one more endpoint. */
  withEndpoint(endpoint) {
    return new TestHost({ config: this.config, endpoints: [...this.endpoints, endpoint] });
  }

  /**
   * Calls `handler` (by default the one `plugin` registered) on `event`:
   * `{ outcome, error, logs }`, the plugin error it threw in `error`. Any
   * other exception propagates, as a bug in a test should.
   */
  run(handler, event) {
    const fn = handler ?? registered();
    if (typeof fn !== "function") throw new Error("no handler: pass one, or register one with plugin()");
    const logs = [];
    const config = this.config;
    const endpoints = [...this.endpoints].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const previous = install({
      log: (level, message) => logs.push([level, message]),
      configGet: (key) => (Object.hasOwn(config, key) ? config[key] : undefined),
      configEntries: () => Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      endpoints: () => endpoints,
    });
    try {
      return { outcome: checked(fn(event)), error: undefined, logs };
    } catch (error) {
      if (error instanceof PluginError) return { outcome: undefined, error, logs };
      throw error;
    } finally {
      install(previous);
    }
  }
}
