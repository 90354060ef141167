/**
 * Test/bench helpers that render text images and turn them into PP-OCR detection input tensors.
 *
 * This module imports `sharp`, which is a devDependency: import it only from tests and benchmarks,
 * never from server code or from `build.ts`.
 */
import sharp from 'sharp';

/** An 8-bit RGB image, row-major, 3 bytes per pixel (`rgb.length === width * height * 3`). */
export interface RgbImage {
  rgb: Buffer;
  width: number;
  height: number;
}

/** An axis-aligned pixel box, inclusive bounds: columns `x0..x1`, rows `y0..y1`. */
export interface PixelBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Options for {@link renderTextImage}. */
export interface RenderTextOptions {
  /** Font size in pixels; default `round(height / 4)`. */
  fontSize?: number;
  /** fontconfig family list; default `'DejaVu Sans, sans-serif'`. */
  fontFamily?: string;
  /** Default `'bold'`. */
  fontWeight?: string;
  /** CSS colours; default black text on white. */
  foreground?: string;
  background?: string;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Renders one line of `text`, centred, onto a plain background, via an SVG rasterised by sharp
 * (librsvg). Text needs a font installed on the host (fontconfig); with none, the image comes back
 * blank, which {@link inkBoundingBox} reports as `undefined`.
 *
 * @param text the text to draw (any characters; XML-escaped here).
 * @param width image width in pixels (positive integer).
 * @param height image height in pixels (positive integer).
 * @returns the RGB pixels (no alpha): `width × height × 3` bytes, row-major, interleaved.
 * @throws {Error} when width/height are not positive integers or sharp fails.
 */
export async function renderTextImage(
  text: string,
  width: number,
  height: number,
  options: RenderTextOptions = {},
): Promise<RgbImage> {
  if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0) {
    throw new Error(`renderTextImage: bad size ${width}x${height}`);
  }
  const fontSize = options.fontSize ?? Math.round(height / 4);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="${escapeXml(options.background ?? 'white')}"/>` +
    `<text x="${width / 2}" y="${height / 2}" ` +
    `font-family="${escapeXml(options.fontFamily ?? 'DejaVu Sans, sans-serif')}" ` +
    `font-size="${fontSize}" font-weight="${escapeXml(options.fontWeight ?? 'bold')}" ` +
    `text-anchor="middle" dominant-baseline="central" fill="${escapeXml(options.foreground ?? 'black')}">` +
    `${escapeXml(text)}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg))
    .resize(width, height, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== width || info.height !== height) {
    throw new Error(`renderTextImage: sharp returned ${info.width}x${info.height}x${info.channels}`);
  }
  return { rgb: data, width, height };
}

/**
 * Bounding box of the "ink": pixels whose mean channel value differs from the top-left pixel
 * (taken as the background) by more than `threshold` (0–255).
 *
 * @returns the inclusive box, or `undefined` when the image is uniform (e.g. no font was available).
 */
export function inkBoundingBox(img: RgbImage, threshold = 64): PixelBox | undefined {
  const { rgb, width, height } = img;
  const bg = (rgb[0] + rgb[1] + rgb[2]) / 3;
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      if (Math.abs((rgb[p] + rgb[p + 1] + rgb[p + 2]) / 3 - bg) > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? undefined : { x0, y0, x1, y1 };
}

/** ImageNet mean used by PaddleOCR's detection preprocessing (`NormalizeImage`), RGB order. */
export const PP_OCR_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet standard deviation used with {@link PP_OCR_MEAN}. */
export const PP_OCR_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/**
 * Converts RGB pixels to the PP-OCR detection model input: planar CHW float32,
 * `(x / 255 − mean[c]) / std[c]` with {@link PP_OCR_MEAN} / {@link PP_OCR_STD}. The PP-OCRv4
 * detector needs `width` and `height` to be multiples of 32; this function does not resize.
 *
 * @param rgb interleaved 8-bit RGB, `width × height × 3` bytes, row-major.
 * @returns `3 × height × width` float32 values: one image of the detector's `[N, 3, H, W]` input.
 * @throws {Error} when `rgb.length !== width * height * 3`.
 */
export function toPpOcrTensor(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  if (rgb.length !== plane * 3) {
    throw new Error(`toPpOcrTensor: ${rgb.length} bytes for ${width}x${height} RGB (expected ${plane * 3})`);
  }
  const out = new Float32Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    const mean = PP_OCR_MEAN[c];
    const std = PP_OCR_STD[c];
    const base = c * plane;
    for (let i = 0; i < plane; i++) out[base + i] = (rgb[i * 3 + c] / 255 - mean) / std;
  }
  return out;
}

/**
 * Means of a `[H, W]` plane (e.g. the probability map of one image of the detector's
 * `[N, 1, H, W]` output) inside `box` and outside it.
 *
 * @param plane row-major values, `width × height` of them.
 * @returns `{ inside, outside }`; `outside` is NaN when the box covers the whole plane.
 */
export function meanInsideOutside(
  plane: ArrayLike<number>,
  width: number,
  height: number,
  box: PixelBox,
): { inside: number; outside: number } {
  let sumIn = 0;
  let nIn = 0;
  let sumOut = 0;
  let nOut = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = plane[y * width + x];
      if (x >= box.x0 && x <= box.x1 && y >= box.y0 && y <= box.y1) {
        sumIn += v;
        nIn++;
      } else {
        sumOut += v;
        nOut++;
      }
    }
  }
  return { inside: sumIn / nIn, outside: sumOut / nOut };
}
