/**
 * Name and label syntax with Kubernetes' own messages (apimachinery's validation package):
 * RFC 1123 subdomains and labels, RFC 1035 labels, qualified names (label and annotation
 * keys), label values, config keys (ConfigMap/Secret), environment variable names and
 * IANA service names (port names). Each check returns the list of problems, [] if fine.
 */

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = '[a-z]([-a-z0-9]*[a-z0-9])?';
const QUALIFIED_NAME = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = `(${QUALIFIED_NAME})?`;
const CONFIG_KEY = '[-._a-zA-Z0-9]+';
const ENV_VAR_NAME = '[-._a-zA-Z][-._a-zA-Z0-9]*';

const full = (re: string): RegExp => new RegExp(`^${re}$`);
const reLabel = full(DNS1123_LABEL);
const reSubdomain = full(DNS1123_SUBDOMAIN);
const re1035 = full(DNS1035_LABEL);
const reQualified = full(QUALIFIED_NAME);
const reLabelValue = full(LABEL_VALUE);
const reConfigKey = full(CONFIG_KEY);
const reEnv = full(ENV_VAR_NAME);

const maxLen = (n: number): string => `must be no more than ${n} characters`;

export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;

export function dns1123Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > DNS1123_LABEL_MAX) out.push(maxLen(DNS1123_LABEL_MAX));
  if (!reLabel.test(v)) {
    out.push(`a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${DNS1123_LABEL}')`);
  }
  return out;
}

export function dns1123Subdomain(v: string): string[] {
  const out: string[] = [];
  if (v.length > DNS1123_SUBDOMAIN_MAX) out.push(maxLen(DNS1123_SUBDOMAIN_MAX));
  if (!reSubdomain.test(v)) {
    out.push(`a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN}')`);
  }
  return out;
}

export function dns1035Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > DNS1123_LABEL_MAX) out.push(maxLen(DNS1123_LABEL_MAX));
  if (!re1035.test(v)) {
    out.push(`a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '${DNS1035_LABEL}')`);
  }
  return out;
}

/** A label or annotation key: `[prefix/]name`, prefix a DNS subdomain, name at most 63 characters. */
export function labelKeyProblems(key: string): string[] {
  const out: string[] = [];
  const parts = key.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0] as string;
  } else if (parts.length === 2) {
    const prefix = parts[0] as string;
    name = parts[1] as string;
    if (prefix.length === 0) out.push('prefix part must be non-empty');
    else out.push(...dns1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [`a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (name.length === 0) out.push('name part must be non-empty');
  else if (name.length > 63) out.push(`name part ${maxLen(63)}`);
  if (name.length > 0 && !reQualified.test(name)) {
    out.push(`name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME}')`);
  }
  return out;
}

export function labelValueProblems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(maxLen(63));
  if (!reLabelValue.test(v)) {
    out.push(`a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '${LABEL_VALUE}')`);
  }
  return out;
}

/** A ConfigMap or Secret key (also the file name it becomes in a volume). */
export function configKeyProblems(k: string): string[] {
  const out: string[] = [];
  if (k.length > DNS1123_SUBDOMAIN_MAX) out.push(maxLen(DNS1123_SUBDOMAIN_MAX));
  if (!reConfigKey.test(k)) {
    out.push(`a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '${CONFIG_KEY}')`);
  }
  if (k === '.') out.push(`must not be '.'`);
  else if (k === '..') out.push(`must not be '..'`);
  else if (k.startsWith('..')) out.push(`must not start with '..'`);
  return out;
}

export function envVarNameProblems(n: string): string[] {
  if (reEnv.test(n)) return [];
  return [`a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '${ENV_VAR_NAME}')`];
}

/** A port name (IANA_SVC_NAME): at most 15 characters, a-z, 0-9 and '-', at least one letter. */
export function portNameProblems(n: string): string[] {
  const out: string[] = [];
  if (n.length > 15) out.push(maxLen(15));
  if (!/^[-a-z0-9]+$/.test(n)) out.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (n.includes('--')) out.push('must not contain consecutive hyphens');
  if (!/[a-z]/.test(n)) out.push('must contain at least one letter (a-z)');
  if (n.startsWith('-') || n.endsWith('-')) out.push('must not begin or end with a hyphen');
  return out;
}
