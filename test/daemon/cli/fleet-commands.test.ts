import t from 'tap';
import { parseKeyValues } from '../../../daemon/src/cli/fleet-commands.js';

t.test('label and annotate arguments: KEY=VALUE sets, KEY- removes, anything else is refused with the reason', async (t) => {
  t.same(parseKeyValues(['a=1', 'b=', 'c-', 'x/y=z'], 'label'), { set: { a: '1', b: '', 'x/y': 'z' }, remove: ['c'] });
  t.throws(() => parseKeyValues(['novalue'], 'label'), /invalid label "novalue": use KEY=VALUE to set or KEY- to remove/);
  t.throws(() => parseKeyValues(['=v'], 'annotation'), /invalid annotation "=v"/);
  t.throws(() => parseKeyValues([], 'label'), /at least one label update is required/);
});
