import t from 'tap';
import { clip, CLIP_LENGTH } from '../../../daemon/src/lib/clip.js';

t.test('short strings come back unchanged and missing ones stay missing', async (t) => {
  t.equal(clip('node-pi1'), 'node-pi1');
  t.equal(clip(''), '');
  t.equal(clip('x'.repeat(CLIP_LENGTH)), 'x'.repeat(CLIP_LENGTH), 'exactly the limit is kept whole');
  t.equal(clip(undefined), undefined);
  t.equal(clip(null), undefined);
});

t.test('a long string is cut to the limit and says how much was cut', async (t) => {
  const id = 'a'.repeat(60_000);
  const out = clip(id)!;
  t.equal(out, `${'a'.repeat(CLIP_LENGTH)}…(+${60_000 - CLIP_LENGTH})`);
  t.ok(out.length < 100, `a 60 KB client id becomes ${out.length} characters`);
  t.equal(clip('abcdef', 3), 'abc…(+3)', 'the limit can be given');
  t.equal(clip('abc', 0), '…(+3)');
});

t.test('a cut never splits a surrogate pair and counts characters, not UTF-16 units', async (t) => {
  const s = '😀'.repeat(10); // 10 code points, 20 UTF-16 units
  t.equal(clip(s, 10), s, '10 characters fit a limit of 10');
  const out = clip(s, 3)!;
  t.equal(out, '😀😀😀…(+7)');
  t.notOk(/[\ud800-\udbff](?![\udc00-\udfff])/.test(out), 'no lone high surrogate');
  t.equal(clip('ab😀cd', 3), 'ab😀…(+2)');
  t.equal(clip('\ud800', 0), '…(+1)', 'a lone surrogate counts as one character');
});
