/**
 * The kernel logo, drawn in code and encoded as PNG with node's zlib (no image files downloaded):
 * a dark rounded square with a white "F" and an orange dot (the sharpness minimum FSAM looks for).
 */
import { crc32, deflateSync } from "node:zlib";

/** RGBA colour. */
type Rgba = [number, number, number, number];

const BACKGROUND: Rgba = [28, 43, 74, 255];
const LETTER: Rgba = [255, 255, 255, 255];
const ACCENT: Rgba = [255, 140, 40, 255];
const CLEAR: Rgba = [0, 0, 0, 0];

/** The colour of the pixel at (x, y) in unit coordinates [0, 1). */
function pixel(u: number, v: number): Rgba {
  const r = 0.18; // corner radius
  const cx = Math.min(Math.max(u, r), 1 - r);
  const cy = Math.min(Math.max(v, r), 1 - r);
  if ((u - cx) ** 2 + (v - cy) ** 2 > r * r) return CLEAR;
  const stem = u >= 0.22 && u < 0.36 && v >= 0.2 && v < 0.8;
  const top = u >= 0.22 && u < 0.72 && v >= 0.2 && v < 0.33;
  const middle = u >= 0.22 && u < 0.6 && v >= 0.45 && v < 0.57;
  if (stem || top || middle) return LETTER;
  if ((u - 0.7) ** 2 + (v - 0.72) ** 2 < 0.09 ** 2) return ACCENT;
  return BACKGROUND;
}

/** One PNG chunk: length, type, data, CRC of type + data. */
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** The logo as a PNG file of `size` × `size` pixels (RGBA, 4× supersampled edges). */
export function logoPng(size: number): Buffer {
  if (!Number.isInteger(size) || size < 8 || size > 1024) throw new Error(`logo size must be an integer in [8, 1024], got ${size}`);
  const ss = 4;
  const rows: Buffer[] = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0
    for (let x = 0; x < size; x++) {
      const acc = [0, 0, 0, 0];
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const p = pixel((x + (sx + 0.5) / ss) / size, (y + (sy + 0.5) / ss) / size);
          acc[0] += p[0] * p[3];
          acc[1] += p[1] * p[3];
          acc[2] += p[2] * p[3];
          acc[3] += p[3];
        }
      }
      const a = acc[3];
      for (let c = 0; c < 3; c++) row[1 + x * 4 + c] = a > 0 ? Math.round(acc[c] / a) : 0;
      row[1 + x * 4 + 3] = Math.round(a / (ss * ss));
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows), { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
