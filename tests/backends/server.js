#!/usr/bin/env node
// Starts one of bizgraph's real SAP CAP test backends on loopback.
//
//   node tests/backends/server.js <s4|crm> [--port N] [--exit-on-stdin-eof]
//
// - s4:  CDS service API_SALES_ORDER_SRV as OData v4 at /odata/v4/sales and, through
//        @cap-js-community/odata-v2-adapter, as OData v2 at /odata/v2/sales (with SAP Gateway's
//        CSRF token protocol on the v2 path, which CAP itself does not implement).
// - crm: CDS service CrmService as OData v4 at /odata/v4/crm.
//
// Binds 127.0.0.1 only; --port defaults to 0 (a free port chosen by the OS). In-memory SQLite,
// seeded from the CSVs under <app>/db/data. When listening it prints exactly one line to stdout,
// `listening on http://127.0.0.1:<port>`; everything else (CAP's logs) goes to stderr.
// --exit-on-stdin-eof makes the process exit when its stdin closes, so a test harness that dies
// without killing it does not leave it running.
//
// Unauthenticated helper endpoints:
//   GET /__health       200 {"status":"UP"}
//   GET /__requests     the OData requests that arrived from outside: [{method, url, user}]
//   DELETE /__requests  clears that log
'use strict'

const path = require('path')
const http = require('http')
const util = require('util')
const crypto = require('crypto')

const APPS = {
  s4: { v4: '/odata/v4/sales', v2: '/odata/v2/sales' },
  crm: { v4: '/odata/v4/crm', v2: null },
}

function usage(message) {
  process.stderr.write(`${message}\nusage: node server.js <${Object.keys(APPS).join('|')}> [--port N] [--exit-on-stdin-eof]\n`)
  process.exit(2)
}

function parseArgs(argv) {
  const options = { app: null, port: 0, exitOnStdinEof: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--port') {
      const value = argv[++i]
      if (!/^\d+$/.test(value || '') || Number(value) > 65535) usage(`invalid --port: ${value}`)
      options.port = Number(value)
    } else if (arg.startsWith('--port=')) {
      const value = arg.slice('--port='.length)
      if (!/^\d+$/.test(value) || Number(value) > 65535) usage(`invalid --port: ${value}`)
      options.port = Number(value)
    } else if (arg === '--exit-on-stdin-eof') {
      options.exitOnStdinEof = true
    } else if (!options.app && arg in APPS) {
      options.app = arg
    } else {
      usage(`unexpected argument: ${arg}`)
    }
  }
  if (!options.app) usage('missing app name')
  return options
}

const options = parseArgs(process.argv.slice(2))
const paths = APPS[options.app]

// stdout carries only the `listening on` line: CAP's console logging goes to stderr.
const toStderr = (...args) => process.stderr.write(util.format(...args) + '\n')
console.log = toStderr
console.info = toStderr
console.debug = toStderr
console.trace = toStderr

// cds.root is the working directory at the time @sap/cds is loaded: the app's project folder,
// whose package.json holds the `cds` configuration (database, mocked users, log levels).
process.chdir(path.join(__dirname, options.app))
const cds = require('@sap/cds')
const express = require('express')

if (options.exitOnStdinEof) {
  process.stdin.on('end', () => process.exit(0))
  process.stdin.on('error', () => process.exit(0))
  process.stdin.resume()
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0))

// ---------------------------------------------------------------------------------------------
// Basic credentials, checked against the mocked users of the cds configuration.

function basicCredentials(req) {
  const header = req.headers.authorization
  if (!header || !/^basic /i.test(header)) return null
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return { user: decoded, password: '' }
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/** The user name if the request carries valid Basic credentials of a configured user. */
function authenticatedUser(req) {
  const credentials = basicCredentials(req)
  if (!credentials) return null
  const users = (cds.env.requires.auth && cds.env.requires.auth.users) || {}
  const entry = Object.prototype.hasOwnProperty.call(users, credentials.user) ? users[credentials.user] : null
  if (!entry || typeof entry !== 'object') return null
  return entry.password === credentials.password ? credentials.user : null
}

// ---------------------------------------------------------------------------------------------
// Request log. The v2 adapter serves a v2 request by sending one or more HTTP requests of its own
// to the v4 path of this same process (and fetches v4 $metadata to build v2 $metadata). Those
// hops go through `hopAgent`, which remembers the local port of every socket it opens; a request
// whose remote port is one of them is an internal hop and is not logged. Every request from
// outside is logged once, with the method and URL its client used.

const internalPorts = new Set()

class HopAgent extends http.Agent {
  createConnection(connectOptions, callback) {
    const socket = super.createConnection(connectOptions, callback)
    let port = null
    // Registered before the client writes anything, so the port is known before the request
    // reaches this process's server side.
    socket.once('connect', () => {
      port = socket.localPort
      internalPorts.add(port)
    })
    socket.once('close', () => {
      if (port !== null) internalPorts.delete(port)
    })
    return socket
  }
}
const hopAgent = new HopAgent({ keepAlive: true })

function isInternalHop(req) {
  const address = req.socket.remoteAddress || ''
  const loopback = address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1'
  return loopback && internalPorts.has(req.socket.remotePort)
}

const requestLog = []

function logRequests(req, _res, next) {
  if (req.path.startsWith('/odata/') && !isInternalHop(req)) {
    const credentials = basicCredentials(req)
    requestLog.push({ method: req.method, url: req.originalUrl, user: credentials ? credentials.user : null })
  }
  next()
}

// ---------------------------------------------------------------------------------------------
// SAP Gateway's CSRF protocol on the v2 path: a GET/HEAD with `X-CSRF-Token: Fetch` receives a
// token bound to the authenticated user; a modifying request (POST, PUT, PATCH, MERGE, DELETE;
// `$batch` is a POST) without that user's token is refused with 403 and `X-CSRF-Token: Required`.
// Requests without valid credentials pass through, so CAP answers them with 401 as SAP does
// (authentication comes before the CSRF check). Tokens live as long as the process.

const csrfTokens = new Map()
const MODIFYING = new Set(['POST', 'PUT', 'PATCH', 'MERGE', 'DELETE'])

function csrfProtection(req, res, next) {
  const user = authenticatedUser(req)
  if (!user) return next()
  const sent = req.headers['x-csrf-token']
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (typeof sent === 'string' && sent.toLowerCase() === 'fetch') {
      let token = csrfTokens.get(user)
      if (!token) {
        token = crypto.randomBytes(18).toString('base64')
        csrfTokens.set(user, token)
      }
      res.setHeader('X-CSRF-Token', token)
    }
    return next()
  }
  if (!MODIFYING.has(req.method)) return next()
  const expected = csrfTokens.get(user)
  if (expected && typeof sent === 'string' && sent === expected) return next()
  const body = JSON.stringify({
    error: {
      code: '403',
      message: { lang: 'en', value: 'CSRF token validation failed' },
    },
  })
  res.status(403)
  res.setHeader('X-CSRF-Token', 'Required')
  res.setHeader('Content-Type', 'application/json')
  res.setHeader('DataServiceVersion', '1.0')
  return res.end(body)
}

// ---------------------------------------------------------------------------------------------
// `@restrict ... where: 'region = $user.region'` filters reads and checks the stored row of an
// UPDATE or DELETE, but CAP does not apply it to the data a CREATE or UPDATE writes: alice could
// create a US row or move an EU row to US. This guard refuses, for users without role admin,
// writes whose `region` is not one of the user's regions (a CREATE must name one).

function guardRegion(req) {
  if (!req.target || !req.target.elements || !req.target.elements.region) return
  if (req.user.is('admin')) return
  const data = Array.isArray(req.data) ? req.data : [req.data]
  const allowed = [].concat((req.user.attr && req.user.attr.region) || [])
  for (const row of data) {
    if (!row || (req.event === 'UPDATE' && !('region' in row))) continue
    if (!allowed.includes(row.region)) {
      return req.reject(403, `region ${JSON.stringify(row.region)} is not one of the user's regions`)
    }
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const app = express()
  app.disable('x-powered-by')
  cds.app = app

  app.use(logRequests)
  app.get('/__health', (_req, res) => res.json({ status: 'UP' }))
  app.get('/__requests', (_req, res) => res.json(requestLog))
  app.delete('/__requests', (_req, res) => {
    requestLog.length = 0
    res.status(204).end()
  })

  if (paths.v2) {
    app.use(paths.v2, csrfProtection)
    const cov2ap = require('@cap-js-community/odata-v2-adapter')
    // target 'auto': the adapter takes the URL of the `listening` event emitted below, which
    // names 127.0.0.1 (`localhost` may resolve to ::1, where nothing listens).
    app.use(cov2ap({ target: 'auto', httpAgent: hopAgent }))
  }

  const csn = await cds.load('*')
  cds.edmxs = cds.compile.to.edmx.files(csn)
  cds.model = cds.compile.for.nodejs(csn)
  cds.db = await cds.connect.to('db')
  await cds.deploy(csn).to(cds.db)
  await cds.serve('all').in(app)
  for (const srv of Object.values(cds.services)) {
    if (srv instanceof cds.ApplicationService) srv.before(['CREATE', 'UPDATE', 'UPSERT'], '*', guardRegion)
  }
  await cds.emit('served', cds.services)

  const server = http.createServer(app)
  server.keepAliveTimeout = 30000
  server.on('error', (error) => {
    process.stderr.write(`server error: ${error.stack || error}\n`)
    process.exit(1)
  })
  server.listen(options.port, '127.0.0.1', async () => {
    const url = `http://127.0.0.1:${server.address().port}`
    app.server = server
    await cds.emit('listening', { server, url })
    process.stdout.write(`listening on ${url}\n`)
  })
}

main().catch((error) => {
  process.stderr.write(`failed to start the ${options.app} backend: ${error.stack || error}\n`)
  process.exit(1)
})
