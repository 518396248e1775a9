/**
 * Tab-separated record reading with the two quoting conventions found in GLUE files:
 * `"none"` (Python `csv.QUOTE_NONE`: every tab separates, every newline ends a record, quotes are
 * text) and `"csv"` (Python's default dialect with a tab delimiter: a field that starts with `"`
 * runs to the matching `"`, may span lines, and `""` inside it is one quote). Every record carries
 * the 1-based line number where it starts, for error messages.
 */

/** Quoting convention of a TSV file. */
export type Quoting = "none" | "csv";

/** One record of a TSV file. */
export interface TsvRecord {
  /** The fields, unquoted. */
  fields: string[];
  /** 1-based line number of the record's first line. */
  line: number;
}

/** Removes a leading UTF-8 byte order mark. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Splits `text` (a whole file, BOM already removed or not) into records. Line ends may be `\n` or
 * `\r\n`; a missing final newline is fine; empty lines are skipped. `path` only labels errors.
 */
export function parseTsv(text: string, quoting: Quoting, path: string): TsvRecord[] {
  const body = stripBom(text);
  return quoting === "none" ? parseUnquoted(body) : parseCsvQuoted(body, path);
}

/** QUOTE_NONE: one record per line, split on every tab. */
function parseUnquoted(text: string): TsvRecord[] {
  const records: TsvRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.length === 0) continue;
    records.push({ fields: line.split("\t"), line: i + 1 });
  }
  return records;
}

/** Python csv default dialect with a tab delimiter (lenient like Python's non-strict mode). */
function parseCsvQuoted(text: string, path: string): TsvRecord[] {
  const records: TsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let recordLine = 1;
  let inQuotes = false;
  let fieldStart = true;
  let quoteLine = 0;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === "")) records.push({ fields, line: recordLine });
    fields = [];
    field = "";
    fieldStart = true;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
        }
      } else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && fieldStart) {
      inQuotes = true;
      quoteLine = line;
      fieldStart = false;
    } else if (c === "\t") {
      fields.push(field);
      field = "";
      fieldStart = true;
    } else if (c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
      if (c === "\r") i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += c;
      fieldStart = false;
    }
  }
  if (inQuotes) throw new Error(`${path}:${quoteLine}: quoted field opened here is never closed`);
  if (field.length > 0 || fields.length > 0) endRecord();
  return records;
}
