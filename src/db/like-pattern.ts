// A LIKE pattern for "contains this text, case-insensitively", used as `lower(column) like ? escape '\'`: the
// text's own `%`, `_` and `\` are taken literally, so a search box cannot turn into a wildcard.
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
