#!/usr/bin/env node
// Writes the seed CSVs of both test backends (s4/db/data, crm/db/data). Deterministic: a fixed
// seed drives a small PRNG, so re-running it reproduces the committed files byte for byte.
//
//   node tests/backends/generate-data.js
//
// Volumes: 40 business partners (even index EU, odd index US), 30 products, 120 sales orders with
// 1-4 items each, 40 CRM accounts (one per partner, bpId = BusinessPartner) and 240 opportunities
// (120 per region). Tricky values on purpose: an apostrophe and an ampersand (O'Neil & Sons),
// non-ASCII (Müller GmbH, Société Générale Ltée, Łódź), a comma and double quotes in a name,
// Decimal(15,2) 12345678901.99, Int64 9007199254740993 (2^53 + 1), nulls in nullable columns,
// dates from 2014 to 2026.
'use strict'

const fs = require('fs')
const path = require('path')

// mulberry32: tiny, deterministic, good enough for seed data.
function prng(seed) {
  let a = seed >>> 0
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = prng(20240611)
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1))
const pick = (list) => list[int(0, list.length - 1)]
const pad = (n, width) => String(n).padStart(width, '0')

function uuid() {
  const hex = []
  for (let i = 0; i < 16; i++) hex.push(pad(int(0, 255).toString(16), 2))
  hex[6] = '4' + hex[6][1] // version 4
  hex[8] = pick(['8', '9', 'a', 'b']) + hex[8][1] // RFC 4122 variant
  const h = hex.join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

function date(fromYear, toYear) {
  return `${int(fromYear, toYear)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}`
}

function time() {
  return `${pad(int(6, 20), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}`
}

/** A decimal string with `scale` fraction digits from an integer count of the smallest unit. */
function decimal(units, scale) {
  const negative = units < 0n
  const abs = negative ? -units : units
  const s = abs.toString().padStart(scale + 1, '0')
  const text = scale === 0 ? s : `${s.slice(0, -scale)}.${s.slice(-scale)}`
  return negative ? `-${text}` : text
}

function csvField(value) {
  if (value === null || value === undefined) return ''
  const s = String(value)
  return /[",;\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

function writeCsv(file, columns, rows) {
  const lines = [columns.join(',')]
  for (const row of rows) lines.push(columns.map((c) => csvField(row[c])).join(','))
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, lines.join('\n') + '\n')
}

// ---------------------------------------------------------------------------------------------
// s4: business partners
const names = [
  "O'Neil & Sons", 'Müller GmbH', 'Acme Corporation', 'Globex Inc.', 'Initech LLC',
  'Société Générale Ltée', 'Umbrella Holdings', 'Stark Industries', 'Wayne Enterprises',
  'Łódź Logistics Sp. z o.o.', 'Hooli', 'Vandelay Industries', 'Nordwind AG', 'Contoso Ltd',
  'Fabrikam, Inc.', 'Tyrell Corp', 'Soylent "Green" Foods', 'Cyberdyne Systems', 'Oceanic Airlines',
  'Dunder Mifflin', 'Bluth Company', 'Pied Piper', 'Sterling Cooper', 'Wonka Industries',
  'Gringotts Bank', 'Monarch Solutions', 'Prestige Worldwide', 'Krusty Krab', 'Aperture Science',
  'Black Mesa', 'Gekko & Co', 'Zorg Industries', 'Nakatomi Trading', 'Virtucon', 'Massive Dynamic',
  'Oscorp', 'Rekall Inc.', 'Weyland-Yutani', 'Buy n Large', 'Ollivanders',
]
const partners = names.map((name, i) => ({
  BusinessPartner: String(1000001 + i),
  BusinessPartnerFullName: name,
  BusinessPartnerCategory: i % 5 === 3 ? '1' : '2',
  region: i % 2 === 0 ? 'EU' : 'US',
  // one partner without a creation date, dates otherwise across 2014-2024
  CreationDate: i === 7 ? null : date(2014, 2024),
  // mostly false, a few blocked, two unknown (null)
  IsBlocked: i === 11 || i === 24 ? null : i % 9 === 4 ? 'true' : 'false',
}))

// s4: products (HT-1000 ... HT-1029, the EPM demo numbering)
const units = ['EA', 'PC', 'KG', 'BOX']
const productWords = ['Notebook', 'Monitor', 'Keyboard', 'Mouse', 'Printer', 'Scanner', 'Tablet',
  'Speaker', 'Headset', 'Router', 'Camera', 'Projector', 'Dock', 'Charger', 'Cable']
const products = []
for (let i = 0; i < 30; i++) {
  const product = {
    Product: `HT-${1000 + i}`,
    ProductDescription: i === 13 ? null : `${productWords[i % productWords.length]} ${['Basic', 'Pro', 'Max'][i % 3]} ${i}`,
    BaseUnit: units[i % units.length],
    Weight: i === 17 ? null : decimal(BigInt(int(50, 250000)), 3),
    Price: decimal(BigInt(int(499, 999999)), 2),
    StockQuantity: String(int(0, 50000)),
    ProductUUID: uuid(),
  }
  products.push(product)
}
products[0].ProductDescription = 'Notebook Basic 15 – "Ultra", 2kg'
products[5].Price = '12345678901.99' // many digits: wrong if passed through a float64 with rounding
products[6].StockQuantity = '9007199254740993' // 2^53 + 1: not representable as a JSON number
products[7].StockQuantity = '-42'
products[8].ProductUUID = null

// s4: sales orders and items
const orders = []
const items = []
for (let i = 0; i < 120; i++) {
  const partner = partners[(i * 7) % partners.length]
  const SalesOrder = String(5000000001 + i)
  let total = 0n
  const itemCount = int(1, 4)
  for (let n = 1; n <= itemCount; n++) {
    const product = products[int(0, products.length - 1)]
    // the item with the huge-price product keeps a small amount so totals stay in range
    const quantityMilli = BigInt(int(1, 50) * 1000 + (n === 2 ? int(0, 999) : 0))
    let amountCents = BigInt(int(100, 500000))
    if (i === 3 && n === 1) amountCents = 1234567890199n // 12345678901.99
    total += amountCents
    items.push({
      SalesOrder,
      SalesOrderItem: String(n * 10),
      Material: product.Product,
      RequestedQuantity: decimal(quantityMilli, 3),
      NetAmount: decimal(amountCents, 2),
      ItemPosition: n,
    })
  }
  orders.push({
    SalesOrder,
    SoldToParty: partner.BusinessPartner,
    region: partner.region,
    TotalNetAmount: decimal(total, 2),
    TransactionCurrency: partner.region === 'EU' ? 'EUR' : 'USD',
    CreationDate: date(2019, 2025),
    LastChangeDateTime: `${date(2024, 2025)}T${time()}.000Z`,
    DeliveryTime: i % 10 === 9 ? null : time(),
    OverallSDProcessStatus: pick(['A', 'B', 'C']),
    Rating: i % 8 === 5 ? null : (int(0, 500) / 100).toString(),
  })
}

// ---------------------------------------------------------------------------------------------
// crm: one account per partner, 240 opportunities (120 per region)
const accounts = partners.map((p) => ({
  ID: uuid(),
  name: p.BusinessPartnerFullName,
  bpId: p.BusinessPartner,
  region: p.region,
}))
const stages = ['Prospecting', 'Qualification', 'Negotiation', 'ClosedWon', 'ClosedLost']
const titles = ['Renewal', 'Upsell', 'New logo', 'Expansion', 'Pilot', 'Migration', 'Support plan']
const opportunities = []
for (let i = 0; i < 240; i++) {
  // skewed spread: low-numbered accounts get more opportunities, every account gets some
  const account = i < 80 ? accounts[i % accounts.length] : accounts[int(0, 19) * 2 + (i % 2)]
  const stage = stages[int(0, stages.length - 1)]
  opportunities.push({
    ID: i + 1,
    title: `${pick(titles)} ${account.name.split(' ')[0]} #${i + 1}`,
    account_ID: account.ID,
    accountBpId: account.bpId,
    amount: i % 37 === 36 ? null : decimal(BigInt(int(50000, 250000000)), 2),
    currency: account.region === 'EU' ? 'EUR' : 'USD',
    closeDate: date(2022, 2026),
    stage,
    probability: i % 23 === 22 ? null : stage === 'ClosedWon' ? 100 : stage === 'ClosedLost' ? 0 : int(5, 95),
    region: account.region,
  })
}
opportunities[0].title = "O'Neil & Sons – Müller joint bid"
opportunities[1].amount = '12345678901.99'

// ---------------------------------------------------------------------------------------------
const here = __dirname
writeCsv(path.join(here, 's4/db/data/s4-A_BusinessPartner.csv'),
  ['BusinessPartner', 'BusinessPartnerFullName', 'BusinessPartnerCategory', 'region', 'CreationDate', 'IsBlocked'],
  partners)
writeCsv(path.join(here, 's4/db/data/s4-A_Product.csv'),
  ['Product', 'ProductDescription', 'BaseUnit', 'Weight', 'Price', 'StockQuantity', 'ProductUUID'],
  products)
writeCsv(path.join(here, 's4/db/data/s4-A_SalesOrder.csv'),
  ['SalesOrder', 'SoldToParty', 'region', 'TotalNetAmount', 'TransactionCurrency', 'CreationDate',
    'LastChangeDateTime', 'DeliveryTime', 'OverallSDProcessStatus', 'Rating'],
  orders)
writeCsv(path.join(here, 's4/db/data/s4-A_SalesOrderItem.csv'),
  ['SalesOrder', 'SalesOrderItem', 'Material', 'RequestedQuantity', 'NetAmount', 'ItemPosition'],
  items)
writeCsv(path.join(here, 'crm/db/data/crm-Accounts.csv'), ['ID', 'name', 'bpId', 'region'], accounts)
writeCsv(path.join(here, 'crm/db/data/crm-Opportunities.csv'),
  ['ID', 'title', 'account_ID', 'accountBpId', 'amount', 'currency', 'closeDate', 'stage',
    'probability', 'region'],
  opportunities)

const count = (rows, region) => rows.filter((r) => r.region === region).length
console.log(`partners ${partners.length} (EU ${count(partners, 'EU')}, US ${count(partners, 'US')}), ` +
  `products ${products.length}, orders ${orders.length} (EU ${count(orders, 'EU')}, US ${count(orders, 'US')}), ` +
  `items ${items.length}, accounts ${accounts.length}, opportunities ${opportunities.length} ` +
  `(EU ${count(opportunities, 'EU')}, US ${count(opportunities, 'US')})`)
