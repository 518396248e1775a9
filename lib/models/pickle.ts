/**
 * A restricted reader of Python pickles (protocols 0–2 binary opcodes, plus the few of protocols 3–4
 * a small pickle uses). A pickle is a program: `GLOBAL` imports any Python callable and `REDUCE`
 * calls it. Here nothing is imported or executed: a `GLOBAL` resolves only through the caller's
 * allow-list of JavaScript stand-ins, and any other name is refused before anything else happens.
 *
 * Python values become: `None` → null, bool → boolean, int → number (bigint beyond 2^53), float →
 * number, str → string, bytes → Uint8Array, list and tuple → arrays, dict → Map.
 */

/** What a `GLOBAL` may resolve to: a callable stand-in (for `REDUCE`) or a plain marker value. */
export type PickleGlobal = ((...args: unknown[]) => unknown) | object;

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** Allowed globals by `module.name`; any other global is refused. */
  globals: ReadonlyMap<string, PickleGlobal>;
  /** Resolves a persistent id (`BINPERSID`); without it, persistent ids are refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Labels errors, e.g. the file name. */
  source?: string;
}

/** The stack marker `MARK` pushes. */
const MARK = Symbol("mark");

/**
 * Reads a pickle. Throws, naming `source`, on a global outside `globals` (the message lists the
 * allowed ones), an opcode outside the supported set, or a malformed stream.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const source = options.source ?? "pickle";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 = new TextDecoder("latin1");
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;

  const fail = (message: string): never => {
    throw new Error(`${source}: ${message}`);
  };
  const need = (n: number): number => {
    if (p + n > bytes.length) fail(`pickle truncated at byte ${p}`);
    const at = p;
    p += n;
    return at;
  };
  const u8 = () => bytes[need(1)];
  const u16 = () => view.getUint16(need(2), true);
  const u32 = () => view.getUint32(need(4), true);
  const line = (): string => {
    const end = bytes.indexOf(0x0a, p);
    if (end < 0) fail(`pickle truncated at byte ${p}`);
    const text = latin1.decode(bytes.subarray(p, end));
    p = end + 1;
    return text;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail(`pickle stack underflow at byte ${p}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail(`pickle stack underflow at byte ${p}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail(`pickle has no MARK before byte ${p}`);
    const items = stack.splice(at);
    items.shift();
    return items;
  };
  const lookup = (module: string, name: string): PickleGlobal => {
    const qualified = `${module}.${name}`;
    const value = options.globals.get(qualified);
    if (value === undefined) {
      fail(
        `refusing to load: the pickle imports ${qualified}, which is not on the allow-list ` +
          `(a pickle is a program: loading it runs what it imports). Only ${[...options.globals.keys()].join(", ")} are allowed`,
      );
    }
    return value!;
  };
  const string = (n: number): string => {
    const at = need(n);
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail(`invalid UTF-8 string at byte ${at}`);
    }
  };
  const copy = (n: number): Uint8Array => bytes.slice(need(n), p);
  const setItem = (dict: unknown, key: unknown, value: unknown): void => {
    if (!(dict instanceof Map)) fail(`SETITEM on a ${describe(dict)} at byte ${p - 1}`);
    (dict as Map<unknown, unknown>).set(key, value);
  };
  const append = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list)) fail(`APPEND on a ${describe(list)} at byte ${p - 1}`);
    (list as unknown[]).push(...items);
  };

  for (;;) {
    const at = p;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail("unknown pickle protocol");
        break;
      case 0x95: // FRAME
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`pickle ended with ${stack.length} values on the stack`);
        return stack[0];
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`pickle refers to memo entry ${key}, which was never stored (byte ${at})`);
        stack.push(memo.get(key));
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(string(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(string(u8()));
        break;
      case 0x54: { // BINSTRING
        const n = view.getInt32(need(4), true);
        if (n < 0) fail(`negative string length at byte ${at}`);
        stack.push(latin1.decode(copy(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(copy(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(copy(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(copy(u8()));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x8a: // LONG1
        stack.push(littleEndianInt(copy(u8())));
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x63: { // GLOBAL
        const module = line();
        stack.push(lookup(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail(`STACK_GLOBAL needs two strings (byte ${at})`);
        stack.push(lookup(module as string, name as string));
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail("the pickle refers to external data (a persistent id), which this reader does not accept");
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        // Functions reach the stack only through allowed globals.
        if (typeof callable !== "function") fail(`REDUCE calls a ${describe(callable)}, which is not callable here (byte ${at})`);
        if (!Array.isArray(args)) fail(`REDUCE needs an argument tuple (byte ${at})`);
        stack.push((callable as (...a: unknown[]) => unknown)(...(args as unknown[])));
        break;
      }
      case 0x62: { // BUILD: only a dict's attributes (an OrderedDict's `_metadata`), which are dropped
        const state = pop();
        const target = top();
        if (!(target instanceof Map) || !(state instanceof Map || state === null || Array.isArray(state))) {
          fail(`BUILD sets the state of a ${describe(target)}, which a state dict never needs (byte ${at})`);
        }
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItem(top(), key, value);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) fail(`SETITEMS with an odd number of items (byte ${at})`);
        const dict = top();
        for (let i = 0; i < items.length; i += 2) setItem(dict, items[i], items[i + 1]);
        break;
      }
      case 0x61: { // APPEND
        const value = pop();
        append(top(), [value]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")} at byte ${at} (not a PyTorch state dict?)`);
    }
  }
}

/** A little-endian two's-complement integer: a number when safe, else a bigint. */
function littleEndianInt(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** A short description of a pickled value for messages. */
function describe(value: unknown): string {
  if (value === MARK) return "MARK";
  if (value instanceof Map) return "dict";
  if (Array.isArray(value)) return "list/tuple";
  if (value === null) return "None";
  return typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
}
