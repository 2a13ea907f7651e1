import t from 'tap';
import { parseSelector, fromLabelSelector, fromLabels, matches, selectorToString, labelSelectorMatches, type Selector } from '../../../daemon/src/api/selectors.js';

const labels = { app: 'web', tier: 'fe', env: 'dev', 'exists-key': '' };

t.test('parses every operator of the string form and matches labels by it', async (t) => {
  const table: Array<[string, Record<string, string>, boolean]> = [
    ['', labels, true],
    ['app=web', labels, true],
    ['app==web', labels, true],
    ['app=db', labels, false],
    ['app!=db', labels, true],
    ['app!=web', labels, false],
    ['missing!=x', labels, true],
    ['tier in (fe,be)', labels, true],
    ['tier in (be)', labels, false],
    ['tier notin (fe,be)', labels, false],
    ['tier notin (be)', labels, true],
    ['missing notin (a)', labels, true],
    ['missing in (a)', labels, false],
    ['exists-key', labels, true],
    ['nope', labels, false],
    ['!canary', labels, true],
    ['!app', labels, false],
    ['app=web,tier in (fe,be),!canary,env!=prod,exists-key', labels, true],
    ['app=web, tier in (fe, be) , !canary', labels, true],
    ['app=web,env=prod', labels, false],
    ['exists-key=', labels, true],
    ['example.com/role=x', { 'example.com/role': 'x' }, true],
  ];
  for (const [s, l, want] of table) t.equal(matches(parseSelector(s), l), want, `${JSON.stringify(s)} on ${JSON.stringify(l)}`);
});

t.test('rejects bad selector syntax with a message saying where', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['app=web,', /requirement must follow ","/],
    ['app in web', /expected "\(" after "app in"/],
    ['app in (a,b', /expected "," or "\)"/],
    ['=web', /expected a label key at position 1/],
    ['app=web tier=fe', /expected "," between requirements/],
    ['!app=web', /takes no operator or value/],
    ['app=we b', /expected "," between requirements/],
    ['Bad Key=x', /expected an operator|between requirements/],
    ['app=-bad-', /invalid label value "-bad-"/],
    ['a/b/c=x', /invalid label key "a\/b\/c"/],
    ['app>1', /invalid label key "app>1"/],
  ];
  for (const [s, re] of bad) t.throws(() => parseSelector(s), re, s);
});

t.test('an empty selector matches everything, also no labels at all', async (t) => {
  t.ok(matches([], {}));
  t.ok(matches([], undefined));
  t.ok(matches(parseSelector('   '), { a: 'b' }));
  t.notOk(matches(parseSelector('a'), undefined));
});

t.test('converts a spec LabelSelector with matchLabels and matchExpressions', async (t) => {
  const sel = fromLabelSelector({
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['fe', 'be'] },
      { key: 'env', operator: 'NotIn', values: ['prod'] },
      { key: 'exists-key', operator: 'Exists' },
      { key: 'canary', operator: 'DoesNotExist' },
    ],
  });
  t.ok(matches(sel, labels));
  t.notOk(matches(sel, { ...labels, canary: 'yes' }));
  t.notOk(matches(sel, { ...labels, env: 'prod' }));
  t.notOk(matches(sel, { app: 'web', tier: 'fe' }));
  t.same(fromLabelSelector(undefined), []);
  t.same(fromLabelSelector({}), []);
  t.ok(labelSelectorMatches({ matchLabels: { app: 'web' } }, labels));
  t.notOk(labelSelectorMatches({ matchLabels: { app: 'db' } }, labels));
});

t.test('rejects a LabelSelector with an unknown operator or wrong values', async (t) => {
  t.throws(() => fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }), /"Gt" is not a valid selector operator/);
  t.throws(() => fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), /values must be given/);
  t.throws(() => fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), /values may not be given/);
});

t.test('prints selectors as kubectl describe does and the text parses back to the same selector', async (t) => {
  const s = 'app=web,tier in (fe,be),!canary,env!=prod,exists-key,x notin (b,a)';
  const sel = parseSelector(s);
  t.equal(selectorToString(sel), 'app=web,tier in (be,fe),!canary,env!=prod,exists-key,x notin (a,b)');
  t.same(parseSelector(selectorToString(sel)), sel);
  const fromSpec: Selector = fromLabelSelector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['fe'] }] });
  t.equal(selectorToString(fromSpec), 'app=web,tier in (fe)');
  t.equal(selectorToString([]), '');
  t.same(fromLabels({ app: 'web' }), parseSelector('app=web'));
});
