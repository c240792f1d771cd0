// Event-type patterns as endpoints and filters use them: exact names, and
// `*` wildcards such as `call.*` or `*`.

/** Whether `eventType` matches `pattern`; `*` matches any run of characters. */
export function eventTypeMatches(pattern, eventType) {
  const [first, ...parts] = pattern.split("*");
  if (!eventType.startsWith(first)) return false;
  let rest = eventType.slice(first.length);
  if (parts.length === 0) return rest === "";
  const last = parts.pop();
  for (const part of parts) {
    const at = rest.indexOf(part);
    if (at < 0) return false;
    rest = rest.slice(at + part.length);
  }
  return rest.endsWith(last);
}
