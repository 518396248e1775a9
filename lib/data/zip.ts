/**
 * A small ZIP archive reader (stored and deflated entries, CRC-checked), enough for the GLUE and
 * SuperGLUE task archives. ZIP64 and encrypted archives are refused with a clear message.
 */
import { crc32, inflateRawSync } from "node:zlib";

/** One file in a ZIP archive. */
export interface ZipEntry {
  /** Path inside the archive, `/`-separated. */
  name: string;
  /** Uncompressed size in bytes. */
  size: number;
  /** Decompresses the entry and checks its CRC-32 and size. */
  read(): Buffer;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/** Lists the file entries (not folders) of a ZIP archive held in `buffer`; `source` labels errors. */
export function readZip(buffer: Buffer, source = "zip archive"): ZipEntry[] {
  const eocd = findEndOfCentralDirectory(buffer, source);
  const count = buffer.readUInt16LE(eocd + 10);
  const cdOffset = buffer.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff || count === 0xffff) throw new Error(`${source}: ZIP64 archives are not supported`);
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buffer.length || buffer.readUInt32LE(p) !== CENTRAL_SIGNATURE) throw new Error(`${source}: corrupt central directory (entry ${i})`);
    const flags = buffer.readUInt16LE(p + 8);
    const method = buffer.readUInt16LE(p + 10);
    const crc = buffer.readUInt32LE(p + 16);
    const compressedSize = buffer.readUInt32LE(p + 20);
    const size = buffer.readUInt32LE(p + 24);
    const nameLength = buffer.readUInt16LE(p + 28);
    const extraLength = buffer.readUInt16LE(p + 30);
    const commentLength = buffer.readUInt16LE(p + 32);
    const localOffset = buffer.readUInt32LE(p + 42);
    const name = buffer.toString("utf8", p + 46, p + 46 + nameLength);
    p += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith("/")) continue;
    entries.push({
      name,
      size,
      read: () => {
        if (flags & 1) throw new Error(`${source}: ${name} is encrypted`);
        if (buffer.readUInt32LE(localOffset) !== LOCAL_SIGNATURE) throw new Error(`${source}: corrupt local header of ${name}`);
        const start = localOffset + 30 + buffer.readUInt16LE(localOffset + 26) + buffer.readUInt16LE(localOffset + 28);
        const raw = buffer.subarray(start, start + compressedSize);
        if (raw.length !== compressedSize) throw new Error(`${source}: ${name} is truncated`);
        let data: Buffer;
        if (method === 0) data = Buffer.from(raw);
        else if (method === 8) data = inflateRawSync(raw);
        else throw new Error(`${source}: ${name} uses compression method ${method}; only stored (0) and deflate (8) are supported`);
        if (data.length !== size || crc32(data) !== crc) throw new Error(`${source}: ${name} fails its CRC/size check (corrupt download?)`);
        return data;
      },
    });
  }
  return entries;
}

/** Offset of the end-of-central-directory record (searched backwards over a possible comment). */
function findEndOfCentralDirectory(buffer: Buffer, source: string): number {
  const lowest = Math.max(0, buffer.length - 22 - 0xffff);
  for (let p = buffer.length - 22; p >= lowest; p--) {
    if (buffer.readUInt32LE(p) === EOCD_SIGNATURE) return p;
  }
  throw new Error(`${source}: not a ZIP archive (no end-of-central-directory record)`);
}
