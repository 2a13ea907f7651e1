import t from 'tap';
import { ManifestError, formatPath, formatValue, reasons } from '../../../daemon/src/api/errors.js';

t.test('prints field paths in kubectl style', async (t) => {
  t.equal(formatPath(['spec', 'template', 'spec', 'containers', 0, 'image']), 'spec.template.spec.containers[0].image');
  t.equal(formatPath(['data', { key: 'app.conf' }]), 'data[app.conf]');
  t.equal(formatPath(['metadata', 'labels', 'app.kubernetes.io/name']), 'metadata.labels[app.kubernetes.io/name]');
  t.equal(formatPath([]), '');
  t.equal(formatPath([0, 'a']), '[0].a');
});

t.test('formats manifest errors as FILE:LINE:COL path: reason', async (t) => {
  const e = new ManifestError({ file: 'web.yaml', line: 12, col: 9, path: 'spec.template.spec.containers[0].image', reason: 'Required value' });
  t.equal(e.format(), 'web.yaml:12:9 spec.template.spec.containers[0].image: Required value');
  t.ok(e instanceof Error);
  t.equal(e.message, e.format());
  t.equal(new ManifestError({ file: 'x.yaml', line: 1, col: 1, path: '', reason: 'invalid YAML: bad' }).format(), 'x.yaml:1:1 invalid YAML: bad');
});

t.test('words reasons as Kubernetes does and cuts long values', async (t) => {
  t.equal(reasons.invalid('x', 'bad'), 'Invalid value: "x": bad');
  t.equal(reasons.invalid(-1, 'must be greater than or equal to 0'), 'Invalid value: -1: must be greater than or equal to 0');
  t.equal(reasons.notSupported('X', ['A', 'B']), 'Unsupported value: "X": supported values: "A", "B"');
  t.equal(reasons.required(), 'Required value');
  t.equal(reasons.duplicate('web'), 'Duplicate value: "web"');
  t.equal(reasons.immutable({ a: 1 }), 'Invalid value: {"a":1}: field is immutable');
  t.ok(formatValue('x'.repeat(500)).length <= 120);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  t.doesNotThrow(() => formatValue(cyclic));
});
