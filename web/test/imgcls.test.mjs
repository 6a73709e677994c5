// Unit tests of imgcls.js against hand-written values: node --test web/test/
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileOps, preprocess, pyRound, resizeLinearWindow, topK } from '../../imgcls_onnx/web/imgcls.js';

test('topK: highest first, ties to the higher class id (numpy argsort[::-1] as PaddleX), 5 decimals', () => {
  const r = topK(Float32Array.from([0.1, 0.3, 0.3, 0.2, 0.1]), 3);
  assert.deepEqual(r.class_ids, [2, 1, 3]);
  assert.deepEqual(r.scores, [0.3, 0.3, 0.2]);
  assert.deepEqual(topK([0.25, 0.25, 0.25, 0.25], 4).class_ids, [3, 2, 1, 0]);
  assert.deepEqual(topK([0.123456789, 0.9], 5).scores, [0.9, 0.12346]);
});

test('pyRound rounds half to even like Python', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 2.4999, 2.5001, 341.5].map(pyRound), [0, 2, 2, 2, 3, 342]);
});

test('resize: 2x2 block average with +2 rounding for exact halving; identity copies', () => {
  const src = Uint8Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]); // 2x2 RGB: 0 1 / 2 3
  assert.deepEqual([...resizeLinearWindow(src, 2, 2, 1, 1)], [2, 2, 2]); // (0+1+2+3+2)>>2
  assert.deepEqual([...resizeLinearWindow(src, 2, 2, 2, 2)], [...src]);
});

test('a bad op list or pixel buffer is a clear error', () => {
  assert.throws(() => compileOps([{ ResizeImage: { size: 224, interpolation: 'bicubic' } }]), /not available in JavaScript/);
  assert.throws(() => compileOps([{ Foo: {} }]), /unknown preprocessing op Foo/);
  const config = { transform_ops: [{ ResizeImage: { size: [4, 4] } }, { ToCHWImage: null }] };
  assert.throws(() => preprocess({ data: new Uint8Array(5), width: 2, height: 2 }, config), /image data must be/);
});

test('normalize: x * float32(scale/std) + float32(-mean/std), rounded to float32 at each step', () => {
  const config = { transform_ops: [{ NormalizeImage: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], scale: '1/255' } },
    { ToCHWImage: null }] };
  const x = preprocess({ data: Uint8Array.from([0, 255, 128]), width: 1, height: 1, channels: 3 }, config);
  assert.deepEqual(x.dims, [1, 3, 1, 1]);
  // 128 * float32(2/255) = 1.00392162799835205078125 (float32), + (-1) -> 0.0039216280...
  assert.deepEqual([...x.data], [-1, 1, Math.fround(Math.fround(128 * Math.fround(2 / 255)) - 1)]);
});
