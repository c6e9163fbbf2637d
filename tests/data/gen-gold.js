#!/usr/bin/env node
/*
 * gen-gold.js: the gold-labelled maritime corpus (tests/data/gold/).
 *
 *   node tests/data/gen-gold.js [OUTDIR]          pages.jsonl + gold.jsonl (200 pages)
 *   node tests/data/gen-gold.js --bench N FILE    N pages JSONL for bench/ (no gold)
 *
 * Deterministic (a seeded PRNG): the same command writes the same bytes, so
 * the committed files can be checked against a fresh run.
 *
 * Pages are written from hand-authored templates for six kinds of document
 * (ship particulars, port state control reports, charter party extracts,
 * casualty reports, crew lists, news) filled with entities drawn from the
 * lists below.  A template marks an entity as [[LABEL|text]]; the builder
 * removes the marks and records the span in code points (end exclusive),
 * so the gold offsets are computed, never guessed.  The annotation
 * guidelines the templates follow are in tests/data/gold/README.md.
 *
 * These pages were written before the rules engine (src/core/rules.c), from
 * what such documents look like, not from what the rules match.
 */
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

/* ---- PRNG (mulberry32) ---- */
let seed = 0x5eed1;
function rnd() {
	seed = (seed + 0x6D2B79F5) | 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const ri = (a, b) => a + Math.floor(rnd() * (b - a + 1)); /* a..b inclusive */
const pick = (a) => a[Math.floor(rnd() * a.length)];
const chance = (p) => rnd() < p;
const digits = (n) => { let s = ''; for (let i = 0; i < n; i++) s += ri(0, 9); return s; };
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const letters = (n) => { let s = ''; for (let i = 0; i < n; i++) s += pick(LETTERS); return s; };

/* ---- entities ---- */

/* IMO number: 6 digits and a check digit (sum of d_i * (7..2) mod 10). */
function imoCheck(six) {
	let s = 0;
	for (let i = 0; i < 6; i++) s += Number(six[i]) * (7 - i);
	return s % 10;
}
function imo() {
	const six = String(ri(7, 9)) + digits(5);
	return six + imoCheck(six);
}
function badImo() {
	const six = String(ri(7, 9)) + digits(5);
	return six + ((imoCheck(six) + ri(1, 9)) % 10);
}

/* Flag states: names as written in registers and reports, adjectives for
 * "-flagged", MIDs (ITU) and call-sign prefixes (ITU series). */
const FLAGS = [
	{ n: ['Panama', 'PANAMA', 'Republic of Panama'], adj: ['Panamanian', 'Panama'], mid: [351, 352, 353, 354, 355, 356, 357, 370, 371, 372, 373], cs: ['3E', '3F', 'H3', 'H8', 'H9', 'HO', 'HP'], emoji: '🇵🇦' },
	{ n: ['Liberia', 'LIBERIA'], adj: ['Liberian', 'Liberia'], mid: [636], cs: ['A8', 'D5', 'EL', '5L'], emoji: '🇱🇷' },
	{ n: ['Marshall Islands', 'MARSHALL ISLANDS', 'Republic of the Marshall Islands'], adj: ['Marshall Islands'], mid: [538], cs: ['V7'], emoji: '🇲🇭' },
	{ n: ['Malta', 'MALTA'], adj: ['Maltese', 'Malta'], mid: [215, 229, 248, 249, 256], cs: ['9H'], emoji: '🇲🇹' },
	{ n: ['Bahamas', 'BAHAMAS', 'The Bahamas'], adj: ['Bahamas', 'Bahamian'], mid: [308, 309, 311], cs: ['C6'], emoji: '🇧🇸' },
	{ n: ['Singapore', 'SINGAPORE'], adj: ['Singapore'], mid: [563, 564, 565, 566], cs: ['9V', 'S6'], emoji: '🇸🇬' },
	{ n: ['Greece', 'GREECE'], adj: ['Greek'], mid: [237, 239, 240, 241], cs: ['SV', 'SX', 'SY', 'SZ'], emoji: '🇬🇷' },
	{ n: ['Cyprus', 'CYPRUS'], adj: ['Cypriot', 'Cyprus'], mid: [209, 210, 212], cs: ['5B', 'C4', 'P3', 'H2'], emoji: '🇨🇾' },
	{ n: ['Norway', 'NORWAY', 'Norway (NIS)'], adj: ['Norwegian'], mid: [257, 258, 259], cs: ['LA', 'LF', 'LN'], emoji: '🇳🇴' },
	{ n: ['United Kingdom', 'UNITED KINGDOM'], adj: ['British', 'UK'], mid: [232, 233, 234, 235], cs: ['MZ', 'VS'], emoji: '🇬🇧' },
	{ n: ['Hong Kong', 'HONG KONG', 'Hong Kong, China'], adj: ['Hong Kong'], mid: [477], cs: ['VR'], emoji: '🇭🇰' },
	{ n: ['China', 'CHINA', "People's Republic of China"], adj: ['Chinese', 'China'], mid: [412, 413, 414], cs: ['BO', 'BQ'], emoji: '🇨🇳' },
	{ n: ['Japan', 'JAPAN'], adj: ['Japanese'], mid: [431, 432], cs: ['7J', 'JD'], emoji: '🇯🇵' },
	{ n: ['Denmark', 'DENMARK', 'Denmark (DIS)'], adj: ['Danish'], mid: [219, 220], cs: ['OU', 'OW', 'OZ'], emoji: '🇩🇰' },
	{ n: ['Netherlands', 'NETHERLANDS', 'the Netherlands'], adj: ['Dutch'], mid: [244, 245, 246], cs: ['PB', 'PC', 'PD'], emoji: '🇳🇱' },
	{ n: ['Germany', 'GERMANY'], adj: ['German'], mid: [211, 218], cs: ['DA', 'DC'], emoji: '🇩🇪' },
	{ n: ['Italy', 'ITALY'], adj: ['Italian'], mid: [247], cs: ['IB', 'IC'], emoji: '🇮🇹' },
	{ n: ['Portugal', 'PORTUGAL', 'Portugal (Madeira)'], adj: ['Portuguese'], mid: [255], cs: ['CQ'], emoji: '🇵🇹' },
	{ n: ['Antigua and Barbuda', 'ANTIGUA AND BARBUDA', 'Antigua & Barbuda'], adj: ['Antigua and Barbuda'], mid: [304, 305], cs: ['V2'], emoji: '🇦🇬' },
	{ n: ['Belize', 'BELIZE'], adj: ['Belize'], mid: [312], cs: ['V3'], emoji: '🇧🇿' },
	{ n: ['Vanuatu', 'VANUATU'], adj: ['Vanuatu'], mid: [576, 577], cs: ['YJ'], emoji: '🇻🇺' },
	{ n: ['Cook Islands', 'COOK ISLANDS'], adj: ['Cook Islands'], mid: [518], cs: ['E5'], emoji: '🇨🇰' },
	{ n: ['Togo', 'TOGO'], adj: ['Togolese', 'Togo'], mid: [671], cs: ['5V'], emoji: '🇹🇬' },
	{ n: ['Sierra Leone', 'SIERRA LEONE'], adj: ['Sierra Leone'], mid: [667], cs: ['9L'], emoji: '🇸🇱' },
	{ n: ['Tanzania', 'TANZANIA', 'United Republic of Tanzania'], adj: ['Tanzanian', 'Tanzania'], mid: [674, 677], cs: ['5I'], emoji: '🇹🇿' },
	{ n: ['Comoros', 'COMOROS'], adj: ['Comoros'], mid: [616], cs: ['D6'], emoji: '🇰🇲' },
	{ n: ['Palau', 'PALAU'], adj: ['Palau'], mid: [511], cs: ['T8'], emoji: '🇵🇼' },
	{ n: ['Saint Vincent and the Grenadines', 'St. Vincent & the Grenadines', 'SAINT VINCENT AND THE GRENADINES'], adj: ['St Vincent'], mid: [375, 376, 377], cs: ['J8'], emoji: '🇻🇨' },
	{ n: ['Republic of Korea', 'KOREA, REPUBLIC OF', 'South Korea'], adj: ['South Korean', 'Korean'], mid: [440, 441], cs: ['DS', 'D7'], emoji: '🇰🇷' },
	{ n: ['India', 'INDIA'], adj: ['Indian'], mid: [419], cs: ['AT', 'AV'], emoji: '🇮🇳' },
	{ n: ['Indonesia', 'INDONESIA'], adj: ['Indonesian'], mid: [525], cs: ['PK', 'PM', 'YB'], emoji: '🇮🇩' },
	{ n: ['Philippines', 'PHILIPPINES'], adj: ['Philippine'], mid: [548], cs: ['DU', 'DY'], emoji: '🇵🇭' },
	{ n: ['Viet Nam', 'VIET NAM', 'Vietnam'], adj: ['Vietnamese'], mid: [574], cs: ['3W', 'XV'], emoji: '🇻🇳' },
	{ n: ['Türkiye', 'TURKEY', 'Turkey'], adj: ['Turkish'], mid: [271], cs: ['TC'], emoji: '🇹🇷' },
	{ n: ['Russian Federation', 'RUSSIA', 'Russia'], adj: ['Russian'], mid: [273], cs: ['UB', 'UF'], emoji: '🇷🇺' },
	{ n: ['Belgium', 'BELGIUM'], adj: ['Belgian'], mid: [205], cs: ['ON', 'OR'], emoji: '🇧🇪' },
	{ n: ['France', 'FRANCE'], adj: ['French'], mid: [226, 227, 228], cs: ['FM', 'FN'], emoji: '🇫🇷' },
	{ n: ['Spain', 'SPAIN'], adj: ['Spanish'], mid: [224, 225], cs: ['EA', 'EB'], emoji: '🇪🇸' },
	{ n: ['Isle of Man', 'ISLE OF MAN'], adj: ['Isle of Man', 'Manx'], mid: [235], cs: ['2D'], emoji: '🇮🇲' },
	{ n: ['Gibraltar', 'GIBRALTAR'], adj: ['Gibraltar'], mid: [236], cs: ['ZD'], emoji: '🇬🇮' },
];

/* Weighted: the big open registers come up most, as in real traffic. */
const FLAG_W = [8, 7, 7, 5, 4, 4, 3, 3, 2, 2, 3, 2, 2, 2, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
function flag() {
	let tot = 0;
	for (let i = 0; i < FLAGS.length; i++) tot += FLAG_W[i] || 1;
	let r = rnd() * tot;
	for (let i = 0; i < FLAGS.length; i++) {
		r -= FLAG_W[i] || 1;
		if (r < 0) return FLAGS[i];
	}
	return FLAGS[0];
}

function mmsi(f) { return String(pick(f.mid)) + digits(6); }
function callSign(f) {
	const p = pick(f.cs);
	const shape = ri(0, 3);
	if (shape === 0) return p + letters(2) + ri(1, 9);         /* 3FQR7 */
	if (shape === 1) return p + letters(1) + digits(ri(3, 4)); /* 9HA2345 */
	if (shape === 2) return p + letters(2);                    /* C6AB */
	return p + letters(3) + ri(2, 9);                          /* A8TJX6 */
}

/* Ports: a world-wide list written from knowledge of shipping, not from any
 * gazetteer; several in their local spelling. */
const PORTS = [
	'Rotterdam', 'Antwerp', 'Antwerpen', 'Hamburg', 'Bremerhaven', 'Le Havre', 'Felixstowe', 'Southampton',
	'Algeciras', 'Valencia', 'Barcelona', 'Piraeus', 'Genoa', 'Trieste', 'Gdańsk', 'Gdynia', 'Świnoujście',
	'Klaipėda', 'Riga', 'Tallinn', 'Göteborg', 'Gothenburg', 'Aarhus', 'Ålesund', 'Tromsø', 'Bergen',
	'Saint-Nazaire', 'Marseille', 'A Coruña', 'Málaga', 'Bilbao', 'Lisbon', 'Sines', 'Constanța', 'Varna',
	'Novorossiysk', 'Ambarli', 'Mersin', 'İzmir', 'Port Said', 'Alexandria', 'Damietta', 'Jeddah',
	'Jebel Ali', 'Dammam', 'Fujairah', 'Salalah', 'Sohar', 'Karachi', 'Mundra', 'Nhava Sheva', 'Chennai',
	'Colombo', 'Chittagong', 'Singapore', 'Port Klang', 'Tanjung Pelepas', 'Laem Chabang', 'Haiphong',
	'Da Nang', 'Manila', 'Hong Kong', 'Shenzhen', 'Guangzhou', 'Xiamen', 'Ningbo', 'Shanghai', 'Qingdao',
	'Tianjin', 'Dalian', 'Busan', 'Incheon', 'Kaohsiung', 'Keelung', 'Tokyo', 'Yokohama', 'Kobe', 'Nagoya',
	'Port Hedland', 'Dampier', 'Newcastle', 'Gladstone', 'Brisbane', 'Melbourne', 'Fremantle', 'Auckland',
	'Tauranga', 'Durban', 'Richards Bay', 'Cape Town', 'Saldanha Bay', 'Lagos', 'Tema', 'Abidjan', 'Dakar',
	'Mombasa', 'Dar es Salaam', 'Santos', 'Paranaguá', 'Rio Grande', 'Itaguaí', 'Tubarão', 'Buenos Aires',
	'Callao', 'San Antonio', 'Valparaíso', 'Cartagena', 'Manzanillo', 'Veracruz', 'Balboa', 'Colón',
	'Houston', 'New Orleans', 'Savannah', 'New York', 'Long Beach', 'Los Angeles', 'Seattle', 'Vancouver',
	'Montréal', 'Québec', 'Halifax', 'Kingston', 'Freeport', 'Zeebrugge', 'Dunkirk', 'Immingham',
	'Rostock', 'Koper', 'Rijeka', 'Thessaloniki', 'Haifa', 'Aqaba', 'Bandar Abbas', 'Umm Qasr',
	'Visakhapatnam', 'Kolkata', 'Yangon', 'Tanjung Priok', 'Surabaya', 'Cebu', 'Vostochny', 'Vladivostok',
];
/* Ports that CJK pages write beside their Latin names. */
const CJK_PORT = { Shanghai: '上海港', Qingdao: '青岛港', Ningbo: '宁波舟山港', Busan: '부산항', Tokyo: '東京港', Kaohsiung: '高雄港', Dalian: '大连港', Yokohama: '横浜港', Tianjin: '天津港', Xiamen: '厦门港' };

/* Vessel names: built from the words ship owners use, with diacritics. */
const VW1 = ['OCEAN', 'STAR', 'NORDIC', 'PACIFIC', 'GOLDEN', 'ATLANTIC', 'AEGEAN', 'BALTIC', 'CAPE', 'SEA', 'BLUE', 'SILVER', 'EASTERN', 'GREAT', 'ORIENT', 'IONIC', 'CORAL', 'POLAR', 'IRON', 'GREEN', 'ROYAL', 'ARCTIC', 'TRITON', 'MARE', 'KOTA', 'CIUDAD DE', 'SÃO', 'ÅLESUND', 'MÁLAGA', 'SANTA', 'GENCO', 'NAVIOS', 'STOLT', 'TORM', 'EVER', 'MSC', 'MAERSK', 'CMA CGM', 'COSCO', 'ONE', 'HMM', 'ZHEN HUA', 'YANG MING', 'SEASPAN', 'PRINCESS', 'NEW', 'ALPHA', 'DOUBLE', 'LUCKY', 'BRIGHT'];
const VW2 = ['PRIDE', 'AURORA', 'BREEZE', 'VOYAGER', 'HARVEST', 'SPIRIT', 'GLORY', 'DAWN', 'TRADER', 'PIONEER', 'FORTUNE', 'HARMONY', 'VENTURE', 'EXPLORER', 'CARRIER', 'HOPE', 'LEGEND', 'WAVE', 'PHOENIX', 'ORCHID', 'LOTUS', 'MERIDIAN', 'HORIZON', 'DESTINY', 'NAVIGATOR', 'CÁDIZ', 'PAULO', 'JÚLIA', 'ZÜRICH', 'KØBENHAVN', 'ISTANBUL', 'ANNA', 'SOFIA', 'ELENI', 'MARIA', 'CHRISTINA', 'EDINBURGH', 'GIVEN', 'ARIES', 'SATRIA', 'EMERALD', 'TIGER', 'FALCON', 'EAGLE', 'CONCORD', 'SUCCESS', 'ENDEAVOUR', 'LIBERTY', 'UNITY', 'MIRACLE'];
function vesselUpper() {
	let n = pick(VW1) + ' ' + pick(VW2);
	const r = rnd();
	if (r < 0.12) n += ' ' + pick(['II', 'III', 'IV', 'V']);
	else if (r < 0.24) n += ' ' + ri(1, 99);
	else if (r < 0.28) n = pick(VW2) + ' ' + pick(['I', 'II']);
	return n;
}
const title = (s) => s.toLowerCase().replace(/(^|[\s-])(\p{L})/gu, (m, a, b) => a + b.toUpperCase()).replace(/\b(Ii|Iii|Iv)\b/g, (m) => m.toUpperCase()).replace(/\b(Msc|Cma Cgm|Hmm|One)\b/g, (m) => m.toUpperCase());

/* Vessel types as registers, reports and news write them. */
const TYPES_FORMAL = ['Bulk Carrier', 'Oil Tanker', 'Crude Oil Tanker', 'Chemical Tanker', 'Oil/Chemical Tanker', 'Container Ship', 'LNG Carrier', 'LPG Carrier', 'General Cargo Ship', 'Ro-Ro Cargo Ship', 'Vehicle Carrier', 'Passenger Ship', 'Ro-Ro Passenger Ship', 'Fishing Vessel', 'Refrigerated Cargo Ship', 'Offshore Supply Ship', 'Tug', 'Cement Carrier', 'Ore Carrier', 'Heavy Load Carrier', 'Product Tanker', 'Gas Carrier'];
const TYPES_PROSE = ['bulk carrier', 'oil tanker', 'crude oil tanker', 'chemical tanker', 'container ship', 'container vessel', 'LNG carrier', 'LPG carrier', 'general cargo ship', 'car carrier', 'ro-ro ferry', 'fishing vessel', 'trawler', 'tug', 'reefer', 'product tanker', 'Capesize bulk carrier', 'Supramax bulk carrier', 'Panamax bulk carrier', 'Handysize bulk carrier', 'Aframax tanker', 'Suezmax tanker', 'VLCC', 'feeder container ship', 'cruise ship', 'offshore supply vessel'];

/* Organizations. */
const ORG_W1 = ['Oceanic', 'Aegean', 'Poseidon', 'Eastern Pacific', 'Northern', 'Blue Star', 'Golden Union', 'Triton', 'Alpha', 'Meridian', 'Thalassa', 'Nereus', 'Seacrest', 'Stellar', 'Hanseatic', 'Nordic', 'Pan Ocean', 'Orient', 'Coral', 'Sinotrans', 'Lemnos', 'Kyma', 'Åsgard', 'Seeblick', 'Mar del Plata', 'Istmo', 'Kowloon', 'Sakura', 'Atlas', 'Polaris'];
const ORG_W2 = ['Navigation', 'Shipping', 'Maritime', 'Shipmanagement', 'Ship Management', 'Tankers', 'Bulk Carriers', 'Marine', 'Shipholding', 'Carriers', 'Reederei', 'Lines', 'Seaways'];
const ORG_SUF = ['S.A.', 'Ltd', 'Ltd.', 'Inc.', 'GmbH & Co. KG', 'Co., Ltd.', 'Pte. Ltd.', 'A/S', 'AS', 'B.V.', 'LLC', 'Corp.', 'S.p.A.', 'Ltda.', 'Limited', 'SA'];
function company() {
	const w2 = pick(ORG_W2);
	if (w2 === 'Reederei') return 'Reederei ' + pick(['Seeblick', 'Hanseatic', 'Nordic', 'Elbe', 'Weser']) + ' GmbH & Co. KG';
	return pick(ORG_W1) + ' ' + w2 + ' ' + pick(ORG_SUF);
}
const CLASS = ['DNV', 'Lloyd\'s Register', 'Bureau Veritas', 'American Bureau of Shipping', 'ABS', 'ClassNK', 'Nippon Kaiji Kyokai', 'Korean Register', 'China Classification Society', 'RINA', 'Indian Register of Shipping', 'Polski Rejestr Statków', 'Hellenic Register of Shipping', 'Croatian Register of Shipping', 'Türk Loydu', 'Registro Italiano Navale'];
const AUTH = ['Paris MoU', 'Tokyo MOU', 'United States Coast Guard', 'Maritime and Coastguard Agency', 'Marine Accident Investigation Branch', 'Australian Maritime Safety Authority', 'Panama Maritime Authority', 'Maritime and Port Authority of Singapore', 'Bundesstelle für Seeunfalluntersuchung', 'Transport Malta', 'Hellenic Coast Guard', 'Japan Coast Guard', 'Danish Maritime Authority'];
const CHARTERERS = ['Cargill International SA', 'Trafigura Maritime Logistics Pte Ltd', 'Vitol SA', 'Bunge SA', 'COFCO International Ltd', 'Glencore International AG', 'Louis Dreyfus Company Suisse SA', 'Oldendorff Carriers GmbH & Co. KG', 'Pacific Basin Shipping Limited', 'Koch Shipping Pte. Ltd.'];
const PANDI = ['Gard', 'Skuld', 'The Standard Club', 'UK P&I Club', 'North of England P&I Association', 'Britannia P&I', 'Japan P&I Club', 'West of England'];

/* Dates in the formats documents use. */
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const p2 = (n) => (n < 10 ? '0' : '') + n;
function dateParts() { return { y: ri(2015, 2025), m: ri(1, 12), d: ri(1, 28) }; }
function dateEarly() { return { y: ri(2015, 2025), m: ri(1, 12), d: ri(1, 17) }; }
function fmtDate(x, style) {
	const { y, m, d } = x;
	const M = MONTHS[m - 1], Mon = M.slice(0, 3);
	const ord = d + (d % 10 === 1 && d !== 11 ? 'st' : d % 10 === 2 && d !== 12 ? 'nd' : d % 10 === 3 && d !== 13 ? 'rd' : 'th');
	switch (style) {
	case 0: return `${d} ${M} ${y}`;
	case 1: return `${p2(d)} ${Mon} ${y}`;
	case 2: return `${p2(d)}-${Mon}-${y}`;
	case 3: return `${p2(d)}.${p2(m)}.${y}`;
	case 4: return `${p2(d)}/${p2(m)}/${y}`;
	case 5: return `${y}-${p2(m)}-${p2(d)}`;
	case 6: return `${M} ${d}, ${y}`;
	case 7: return `${ord} ${M} ${y}`;
	case 8: return `${p2(d)} ${Mon.toUpperCase()} ${y}`;
	case 9: return `${p2(d)}-${Mon.toUpperCase()}-${String(y).slice(2)}`;
	case 10: return `${Mon} ${d}, ${y}`;
	case 11: return `${y}年${m}月${d}日`;
	default: return `${d} ${M} ${y}`;
	}
}
const date = (style) => fmtDate(dateParts(), style === undefined ? ri(0, 10) : style);

function num(n, sep) { /* thousands separators: ',' '.' ' ' or none */
	const s = String(n);
	if (!sep) return s;
	return s.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
}

/* People (crew lists): names with diacritics, some in decomposed form. */
const GIVEN = ['José', 'Juan', 'Mário', 'João', 'Łukasz', 'Paweł', 'Andrés', 'Nguyễn Văn', 'Oleksandr', 'Dmytro', 'Rajesh', 'Ramón', 'Zoë', 'Søren', 'Jürgen', 'Çağrı', 'Ştefan', 'Renée', 'Mark Anthony', 'Jericho', 'Rommel', 'Arvind', 'Wei', 'Hiroshi', 'Ahmed', 'Niamh'];
const FAMILY = ['Núñez', 'Gonçalves', 'Kowalczyk', 'Wiśniewski', 'dela Cruz', 'Santos', 'Reyes', 'Bondarenko', 'Kovalenko', 'Sharma', 'Pérez', 'Jørgensen', 'Müller', 'Yılmaz', 'Popescu', 'Dubois', 'García', 'Tran', 'Zhang', 'Tanaka', 'Haddad', 'Ó Briain', 'Mendoza', 'Bautista'];
const NATIONALITY = ['Filipino', 'Ukrainian', 'Indian', 'Polish', 'Romanian', 'Russian', 'Chinese', 'Vietnamese', 'Greek', 'Turkish', 'Croatian', 'Myanmar', 'Indonesian', 'Spanish', 'Portuguese'];
const RANKS = ['Master', 'Chief Officer', '2nd Officer', '3rd Officer', 'Chief Engineer', '2nd Engineer', '3rd Engineer', 'Electrician', 'Bosun', 'AB', 'AB', 'OS', 'Oiler', 'Fitter', 'Chief Cook', 'Messman', 'Cadet'];

/* ---- the builder ---- */

/* Parses [[LABEL|text]] marks; returns {text, spans} in code points. */
function build(markup) {
	let text = '', cp = 0;
	const spans = [];
	const re = /\[\[([A-Z_]+)\|([^\]]*)\]\]/g;
	let last = 0, m;
	while ((m = re.exec(markup))) {
		const before = markup.slice(last, m.index);
		text += before; cp += [...before].length;
		const st = cp;
		text += m[2]; cp += [...m[2]].length;
		if (!LABELS.includes(m[1])) throw new Error('unknown label ' + m[1]);
		if (m[2].length) spans.push({ start: st, end: cp, label: m[1] });
		last = re.lastIndex;
	}
	text += markup.slice(last);
	if (text.includes('[[') || text.includes(']]')) throw new Error('stray mark in: ' + markup.slice(0, 200));
	if (/ {2}|\t|[ ]\n|\n[ ]|^\s|\s$/.test(text)) throw new Error('text not normalised: ' + JSON.stringify(text.slice(0, 300)));
	return { text, spans };
}
const LABELS = ['VESSEL_NAME', 'IMO_NUMBER', 'MMSI', 'CALL_SIGN', 'FLAG_STATE', 'PORT', 'DATE', 'ORGANIZATION', 'VESSEL_TYPE', 'TONNAGE'];
const E = (label, s) => `[[${label}|${s}]]`;
const V = (s) => E('VESSEL_NAME', s), I = (s) => E('IMO_NUMBER', s), MM = (s) => E('MMSI', s),
	CS = (s) => E('CALL_SIGN', s), FL = (s) => E('FLAG_STATE', s), P = (s) => E('PORT', s),
	D = (s) => E('DATE', s), O = (s) => E('ORGANIZATION', s), T = (s) => E('VESSEL_TYPE', s),
	TN = (s) => E('TONNAGE', s);

/* A ship with all its particulars. */
function ship() {
	const f = flag();
	const upper = vesselUpper();
	const gt = ri(2500, 160000);
	return {
		name: upper, tname: title(upper), f, flagName: pick(f.n), adj: pick(f.adj),
		imo: imo(), mmsi: mmsi(f), cs: callSign(f), type: pick(TYPES_FORMAL), ptype: pick(TYPES_PROSE),
		gt, nt: Math.round(gt * (0.45 + rnd() * 0.2)), dwt: Math.round(gt * (1.3 + rnd() * 0.6)),
		built: ri(1995, 2023), owner: company(), manager: company(), cls: pick(CLASS),
		reg: pick(PORTS), loa: (ri(900, 3990) / 10).toFixed(1),
	};
}
const tonnageUnit = (n, unit) => { /* figure + unit, separator styles */
	const sep = pick([',', ',', ',', '.', ' ', '']);
	return `${num(n, sep)} ${unit}`;
};

/* ---- templates: each returns markup for one page ---- */

function particulars() {
	const s = ship();
	const style = ri(0, 3);
	const sep = pick([',', ',', '.', '']);
	const issue = date(pick([0, 3, 4, 5, 1]));
	if (style === 0) {
		return `SHIP PARTICULARS
Name of ship: ${V(s.name)}
IMO number: ${I(s.imo)}
MMSI: ${MM(s.mmsi)}
Call sign: ${CS(s.cs)}
Flag: ${FL(s.flagName)}
Port of registry: ${P(s.reg)}
Type of ship: ${T(s.type)}
Year of build: ${s.built}
Gross tonnage: ${TN(num(s.gt, sep))}
Net tonnage: ${TN(num(s.nt, sep))}
Deadweight: ${TN(num(s.dwt, sep) + ' t')}
Length overall: ${s.loa} m
Registered owner: ${O(s.owner)}
ISM manager: ${O(s.manager)}
Classification society: ${O(s.cls)}
Date of issue: ${D(issue)}`;
	}
	if (style === 1) { /* a table flattened by OCR: label | value on one line */
		return `VESSEL DATA SHEET | ${O(s.manager)}
Vessel | ${V(s.name)} | Ex-names | ${V(vesselUpper())} (until ${D(date(3))})
IMO No. | ${I(s.imo)} | MMSI | ${MM(s.mmsi)}
Call Sign | ${CS(s.cs)} | Flag | ${FL(s.flagName)}
Type | ${T(s.type)} | Class | ${O(s.cls)}
GT | ${TN(num(s.gt, sep))} | NT | ${TN(num(s.nt, sep))} | DWT | ${TN(num(s.dwt, sep))}
LOA | ${s.loa} m | Built | ${s.built}
Owners | ${O(s.owner)}
Tel: +30 210 ${digits(7)} | Fax: +30 210 ${digits(7)}
Printed ${D(date(5))}`;
	}
	if (style === 2) { /* bilingual (Chinese / English) certificate extract */
		return `船舶资料 / SHIP PARTICULARS
船名 Name of ship: ${V(s.name)}
船舶识别号 IMO No.: ${I(s.imo)}
呼号 Call sign: ${CS(s.cs)}
水上移动通信业务标识 MMSI: ${MM(s.mmsi)}
船旗 Flag: ${FL(s.flagName)}
船籍港 Port of registry: ${P(s.reg)}
船舶种类 Type: ${T(s.type)}
总吨 Gross tonnage: ${TN(num(s.gt, sep))}
净吨 Net tonnage: ${TN(num(s.nt, sep))}
载重吨 Deadweight: ${TN(num(s.dwt, sep) + ' t')}
签发日期 Date of issue: ${D(date(pick([5, 11, 11])))}`;
	}
	/* OCR columns run together: header line, then values line */
	return `Q88 EXTRACT - ${O(s.manager)}
1.2 Vessel's name: ${V(s.name)} 1.3 IMO: ${I(s.imo)}
1.5 Flag: ${FL(s.flagName)} 1.6 Port of Registry: ${P(s.reg)}
1.7 Call Sign: ${CS(s.cs)} 1.8 MMSI: ${MM(s.mmsi)}
1.11 Type of vessel: ${T(s.type)}
1.14 Date delivered: ${D(date(pick([1, 2, 8])))}
1.19 Classification society: ${O(s.cls)}
4.3 Gross Tonnage / Net Tonnage: ${TN(num(s.gt, sep))} / ${TN(num(s.nt, sep))}
4.5 Summer deadweight: ${TN(num(s.dwt, sep) + ' MT')}
Owner's invoice no. ${pick(s.f.mid)}${digits(6)} refers. Contact +34 6${digits(2)} ${digits(3)} ${digits(3)}.`;
}

const DEFICIENCIES = [
	['07105', 'Fire doors/openings in fire-resisting divisions', 'not closing properly'],
	['10111', 'Charts', 'not corrected up to date'],
	['11101', 'Lifeboats', 'release gear defective'],
	['13101', 'Propulsion main engine', 'exhaust leakage'],
	['14104', 'Oil filtering equipment', 'alarm 15 ppm inoperative'],
	['15150', 'ISM', 'maintenance of the ship and equipment not ensured'],
	['01220', 'Seafarers\' employment agreement', 'missing for two ratings'],
	['04114', 'Emergency source of power - emergency generator', 'failed to start'],
	['18203', 'Ventilation, heating and air conditioning', 'galley fan inoperative'],
];

function psc() {
	const s = ship();
	const port = pick(PORTS);
	const mou = pick(['Paris MoU', 'Tokyo MOU', 'Paris MoU']);
	const nd = ri(0, 5);
	const det = nd >= 4 && chance(0.6);
	let defs = '';
	const pool = DEFICIENCIES.slice();
	for (let i = 0; i < nd; i++) {
		const d = pool.splice(ri(0, pool.length - 1), 1)[0];
		defs += `\n${i + 1}. ${d[0]} ${d[1]} - ${d[2]}. Action: ${pick(['17', '16', '30', '10'])}`;
	}
	const style = ri(0, 1);
	const insp = date(pick([0, 3, 4, 5]));
	if (style === 0) {
		return `REPORT OF INSPECTION IN ACCORDANCE WITH THE ${O(mou)}
Authority: ${O(pick(AUTH))}
Port of inspection: ${P(port)}
Date of inspection: ${D(insp)}
Name of ship: ${V(s.name)}
Flag of ship: ${FL(s.flagName)}
IMO number: ${I(s.imo)}
Call sign: ${CS(s.cs)}
MMSI: ${MM(s.mmsi)}
Type of ship: ${T(s.type)}
Gross tonnage: ${TN(num(s.gt, ','))}
Deadweight: ${TN(num(s.dwt, ','))}
Year of build: ${s.built}
Company: ${O(s.manager)}
Recognized organization (statutory certificates): ${O(s.cls)}
Date of last renewal survey: ${D(date(pick([0, 3, 5])))}
Number of deficiencies: ${nd}${defs}
Ship detained: ${det ? 'YES' : 'NO'}${det ? '\nDetention ground: the deficiencies above, taken together.' : ''}
Duty officer PSC, tel. ${digits(3)} ${digits(3)} ${digits(3)}`;
	}
	/* a flattened table of several inspections (monthly list) */
	let rows = '';
	const n = ri(3, 5);
	for (let i = 0; i < n; i++) {
		const x = ship();
		rows += `\n${V(x.name)} ${I(x.imo)} ${FL(pick(x.f.n))} ${T(x.type)} ${P(pick(PORTS))} ${D(date(pick([3, 5, 4])))} ${ri(0, 9)} ${chance(0.2) ? 'Y' : 'N'}`;
	}
	const badi = badImo();
	return `${O(mou)} - inspections and detentions, ${D(date(pick([6, 0])))}
Ship name IMO no Flag Ship type Port Date Def Det${rows}
Note: the entry for IMO ${badi} in last month's list was a typing error and has been withdrawn.
Figures are provisional. Page ${ri(1, 9)} of ${ri(9, 20)}`;
}

function charter() {
	const s = ship();
	const lp = pick(PORTS), dp = pick(PORTS);
	const cargoQ = num(ri(20, 180) * 1000, ',');
	const l1 = dateEarly();
	const style = ri(0, 1);
	const dwtu = pick(['DWT', 'dwt', 'mt dwt', 'MT DWT']);
	if (style === 0) {
		return `FIXTURE RECAP - ${pick(['CONFIDENTIAL', 'PRIVATE AND CONFIDENTIAL'])}
CP DATED ${D(date(pick([8, 1, 4])))}
OWNERS: ${O(s.owner)}
CHARTERERS: ${O(pick(CHARTERERS))}
VESSEL: M/V ${V(s.name)} (MMSI ${MM(s.mmsi)}) - ${FL(s.flagName)} FLAG - BLT ${s.built} - ${TN(tonnageUnit(s.dwt, dwtu))} ON ${(ri(100, 180) / 10).toFixed(1)}M SSW - ${TN(num(s.gt, ',') + ' GT')} / ${TN(num(s.nt, ',') + ' NT')} - IMO ${I(s.imo)}
CARGO: ${cargoQ} MT ${pick(['COAL', 'IRON ORE', 'SOYBEANS', 'WHEAT', 'BAUXITE', 'CLINKER'])} 10% MOLOO
LOADING: 1 SAFE BERTH ${P(lp)}
DISCHARGING: 1-2 SAFE BERTHS ${P(dp)}
LAYCAN: ${D(fmtDate(l1, 1))} / ${D(fmtDate({ y: l1.y, m: l1.m, d: Math.min(28, l1.d + 5) }, 1))}
FREIGHT: USD ${(ri(800, 3500) / 100).toFixed(2)} PMT FIOST
DEMURRAGE/DESPATCH: USD ${num(ri(8, 40) * 1000, ',')} PDPR / HALF DESPATCH
COMMISSION: 3.75 PCT ADDCOMM
CLASS: ${O(s.cls)} - P&I: ${O(pick(PANDI))}
OTHERWISE AS PER ${O(pick(CHARTERERS).split(' ')[0] + ' ' + pick(['Shipping', 'Maritime']) + ' ' + 'Ltd')} PROFORMA CP. BANK REF INV ${digits(9)}`;
	}
	return `Time Charter Party extract (clause 1 to 5)
1. It is this day mutually agreed between ${O(s.owner)} (hereinafter called "Owners"), being owners of the motor vessel called "${V(s.tname)}", ${T(s.ptype)} of ${TN(tonnageUnit(s.gt, 'gross tons'))}, built ${s.built}, flag ${FL(s.flagName)}, and ${O(pick(CHARTERERS))} (hereinafter called "Charterers"), as follows:
2. Delivery: on dropping outward pilot ${P(lp)} at any time day or night, Sundays and holidays included, between ${D(fmtDate(l1, 0))} and ${D(fmtDate({ y: l1.y, m: l1.m, d: Math.min(28, l1.d + 10) }, 0))}.
3. Redelivery: on dropping last outward sea pilot one safe port ${P(dp)} range.
4. Hire: USD ${num(ri(9, 28) * 1000 + ri(0, 9) * 50, ',')} per day including overtime, payable every 15 days in advance.
5. The vessel's deadweight is about ${TN(tonnageUnit(s.dwt, 'metric tonnes deadweight'))} on a summer draft of ${(ri(100, 150) / 10).toFixed(2)} metres; cubic capacity ${num(ri(40, 100) * 1000, ',')} cbm grain.`;
}

function casualty() {
	const s = ship();
	const port = pick(PORTS), port2 = pick(PORTS);
	const d1 = dateEarly();
	const style = ri(0, 2);
	const auth = pick(AUTH);
	if (style === 0) {
		return `MARINE CASUALTY REPORT
Investigating body: ${O(auth)}
Report no. ${ri(1, 30)}/${ri(2016, 2025)}
SYNOPSIS
On ${D(fmtDate(d1, 0))}, the ${FL(s.adj)}-flagged ${T(s.ptype)} ${V(s.name)} (IMO ${I(s.imo)}, ${TN(num(s.gt, ',') + ' gt')}) ran aground while leaving ${P(port)} for ${P(port2)} in darkness. There were ${ri(18, 26)} crew on board; ${pick(['nobody was injured', 'two crew members suffered minor injuries', 'the second officer was seriously injured'])}. The vessel was refloated on ${D(fmtDate({ y: d1.y, m: d1.m, d: Math.min(28, d1.d + 2) }, 0))} with the assistance of ${ri(2, 4)} tugs and proceeded to ${P(pick(PORTS))} for dry-docking.
The ${T(s.ptype)} is owned by ${O(s.owner)} and managed by ${O(s.manager)}, ${pick(['Piraeus', 'Hamburg', 'Singapore', 'Limassol'])}-based companies. Her class society, ${O(s.cls)}, attended.
Safety issues: passage planning; bridge resource management; the pilot's local knowledge was not shared with the bridge team.
Contact the investigation line on ${digits(3)} ${digits(3)} ${digits(3)} or by e-mail.`;
	}
	if (style === 1) { /* narrative with hyphenated line breaks from the layout */
		const hyphPort = pick(['Rotter-\ndam', 'Bremer-\nhaven', 'Felix-\nstowe', 'Southamp-\nton', 'Vladi-\nvostok']);
		return `CASUALTY INFORMATION - ${D(fmtDate(d1, 7))}
At about 0340 local time the ${T(s.ptype)} ${V(s.tname)}, registered in ${FL(s.flagName)}, collided with the ${T('fishing vessel')} ${V(title(pick(VW2)) + ' ' + ri(1, 9))} in the approaches to ${P(hyphPort)}. The ${T('fishing ves-\nsel')} sank within minutes; her ${ri(3, 6)} crew were rescued by the pilot boat.
AIS data (MMSI ${MM(s.mmsi)}) show the ${T(s.ptype)} at ${ri(10, 16)}.${ri(0, 9)} knots two minutes before the collision. Her call sign ${CS(s.cs)} was heard on VHF channel ${ri(10, 16)} at 0338.
${O(auth)} opened a safety investigation on ${D(fmtDate({ y: d1.y, m: d1.m, d: Math.min(28, d1.d + 1) }, pick([3, 4])))}. The owners, ${O(s.owner)}, and the ship's P&I club, ${O(pick(PANDI))}, were informed.
Incident ref. ${digits(9)}.`;
	}
	/* table of casualties, flattened */
	let rows = '';
	for (let i = 0; i < ri(3, 5); i++) {
		const x = ship();
		rows += `\n${D(date(pick([3, 5])))} ${V(x.name)} ${T(x.type)} ${FL(pick(x.f.n))} ${I(x.imo)} ${pick(['Grounding', 'Collision', 'Fire in engine room', 'Man overboard', 'Cargo shift', 'Machinery failure'])} near ${P(pick(PORTS))}`;
	}
	return `Annex 2 - Casualties reported to the ${O(pick(AUTH))} in ${D(MONTHS[ri(0, 11)] + ' ' + ri(2016, 2025))}
Date Ship Type Flag IMO Event Location${rows}
Total vessels involved: ${ri(5, 40)}. Combined tonnage of the fleet monitored: ${num(ri(100000000, 999999999), '')} tonnes.`;
}

function crewList() {
	const s = ship();
	const n = ri(6, 12);
	let rows = '';
	for (let i = 0; i < n; i++) {
		let name = pick(FAMILY).toUpperCase() + ', ' + pick(GIVEN);
		if (chance(0.25)) name = name.normalize('NFD'); /* combining marks */
		rows += `\n${i + 1} ${name} ${RANKS[Math.min(i, RANKS.length - 1)]} ${pick(NATIONALITY)} ${D(fmtDate({ y: ri(1962, 2004), m: ri(1, 12), d: ri(1, 28) }, pick([3, 4, 5, 1])))} ${letters(2)}${digits(7)}`;
	}
	const arr = pick(PORTS), last = pick(PORTS);
	return `CREW LIST (IMO FAL Form 5)
1.1 Name of ship: ${V(s.name)}
1.2 IMO number: ${I(s.imo)}
1.3 Call sign: ${CS(s.cs)}
1.4 Voyage number: ${letters(2)}${ri(10, 99)}${pick(['A', 'B', 'N', 'S'])}
2. Port of arrival: ${P(arr)}
3. Date of arrival: ${D(date(pick([3, 4, 5, 0])))}
4. Flag State of ship: ${FL(s.flagName)}
5. Last port of call: ${P(last)}
No. Family name, given names Rank Nationality Date of birth Passport${rows}
Master: ${pick(GIVEN)} ${pick(FAMILY)} - ship's phone ${pick(['+870', '+881'])} ${digits(9)}`;
}

function news() {
	const s = ship();
	const style = ri(0, 3);
	const port = pick(PORTS);
	const d1 = date(pick([0, 6, 10, 7]));
	if (style === 0) {
		return `${pick(['Bulk market', 'Tanker news', 'Container shipping', 'Port news'])} | ${D(d1)}
${pick(['🚢', '⚓', '🛳️'])} The ${FL(s.adj)}-flagged ${T(s.ptype)} ${V(s.tname)} arrived at ${P(port)} on ${D(date(pick([6, 0, 10])))} carrying ${num(ri(20, 200) * 1000, ',')} tonnes of ${pick(['iron ore', 'coal', 'grain', 'crude oil', 'containers'])}, port officials said. 📦
The ${TN(tonnageUnit(s.dwt, 'dwt'))} ship, operated by ${O(s.manager)}, was built in ${s.built} and is classed with ${O(s.cls)}.
"Berthing went smoothly," a spokesperson for the port of ${P(port)} said. For press enquiries call ${pick(['+44 20', '+31 10', '+65'])} ${digits(4)} ${digits(4)}.`;
	}
	if (style === 1) { /* CJK article with Latin entities */
		const cjp = pick(Object.keys(CJK_PORT));
		return `航运新闻 ${D(date(11))}
据报道，${FL(pick(s.f.n))}籍${T(s.ptype)} “${V(s.name)}” 轮（IMO ${I(s.imo)}）于${D(date(11))}抵达${CJK_PORT[cjp]}（${P(cjp)}）。🚢
该轮由${O(s.manager)}管理，船级社为${O(s.cls)}。
English summary: ${V(s.tname)} (${TN(num(s.gt, ',') + ' GT')}) called at ${P(cjp)} 🇨🇳 after loading at ${P(pick(PORTS))}.`;
	}
	if (style === 2) { /* social media post, emoji and flag emoji near entities */
		return `Ship spotting 📸 ${D(date(pick([4, 3])))}
Lovely sunset departure of ${V(s.tname)} ${s.f.emoji} ${FL(s.flagName)} from ${P(port)} 😍🌅 #shipspotting #${s.ptype.replace(/[^A-Za-z]/g, '')}
${T(s.ptype)} • ${TN(num(s.gt, ',') + ' GT')} • MMSI ${MM(s.mmsi)} • bound for ${P(pick(PORTS))} ⚓
Reply from @${pick(['harbourwatch', 'mariner_ze', 'port_fan'])}: she was here last ${D(MONTHS[ri(0, 11)] + ' ' + ri(2016, 2025))} too 👍 (photo 1 of ${ri(2, 9)})`;
	}
	/* market report with several ships and non-entity numbers */
	const a = ship(), b = ship();
	return `Weekly S&P report - week ${ri(1, 52)}, ${D(d1)}
The ${T(a.ptype)} "${V(a.tname)}" (${TN(tonnageUnit(a.dwt, 'dwt'))}, built ${a.built} ${pick(['Oshima', 'Imabari', 'Tsuneishi', 'Hyundai Mipo', 'Jiangsu New Yangzi', 'Hudong-Zhonghua'])}) was reported sold to ${pick(['Greek', 'Chinese', 'Turkish', 'undisclosed'])} buyers for USD ${(ri(80, 450) / 10).toFixed(1)} million. Her sister "${V(b.tname)}" is also on the market.
In the tanker segment, ${O(company())} took delivery of the ${T(pick(['Aframax tanker', 'Suezmax tanker', 'VLCC', 'LR2 tanker']))} ${V(b.name)} (IMO ${I(b.imo)}, MMSI ${MM(b.mmsi)}, ${FL(b.flagName)} flag) at ${P(pick(PORTS))}.
Demolition: a ${num(ri(5, 30) * 1000, ',')} ldt ${T(pick(['container ship', 'bulk carrier', 'reefer']))} went for recycling at ${pick(['Alang', 'Chattogram', 'Gadani', 'Aliağa'])} at USD ${ri(380, 620)}/ldt.
Brokers: ${O(company())}, tel ${ri(200, 299)}${digits(6)}.`;
}

const KINDS = [particulars, psc, charter, casualty, crewList, news];

function sha256hex(s) { return crypto.createHash('sha256').update(s, 'utf8').digest('hex'); }

function generate(npages, wantGold) {
	const pages = [], gold = [];
	let doc = 0, pn = 0, docId = '';
	for (let i = 0; i < npages; i++) {
		if (pn === 0 || pn >= ri(1, 3)) {
			doc++;
			pn = 0;
			docId = sha256hex('apflow-gold-doc-' + doc).slice(0, 20);
		}
		pn++;
		let markup = KINDS[i % KINDS.length]();
		if (chance(0.08)) markup = markup.normalize('NFD'); /* whole page decomposed */
		const { text, spans } = build(markup);
		pages.push({ doc_id: docId, page_num: pn, text, text_sha256: sha256hex(text) });
		if (wantGold) gold.push({ doc_id: docId, page_num: pn, spans });
	}
	return { pages, gold };
}

const jsonl = (rows) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

function main(argv) {
	if (argv[0] === '--help' || argv[0] === '-h') {
		process.stdout.write('usage: node tests/data/gen-gold.js [OUTDIR]         pages.jsonl + gold.jsonl (200 pages)\n' +
			'       node tests/data/gen-gold.js --bench N FILE   N pages JSONL for bench/ (no gold)\n');
		return;
	}
	if (argv[0] && argv[0].startsWith('-') && argv[0] !== '--bench') {
		process.stderr.write(`gen-gold: unknown option '${argv[0]}' (see --help)\n`);
		process.exit(2);
	}
	if (argv[0] === '--bench') {
		const n = Number(argv[1]), out = argv[2];
		if (!(n > 0) || !out) throw new Error('usage: gen-gold.js --bench N FILE');
		seed = 0xbe4c4;
		const { pages } = generate(n, false);
		fs.writeFileSync(out + '.tmp', jsonl(pages));
		fs.renameSync(out + '.tmp', out);
		return;
	}
	const dir = argv[0] || path.join(__dirname, 'gold');
	fs.mkdirSync(dir, { recursive: true });
	const { pages, gold } = generate(200, true);
	for (const [name, rows] of [['pages.jsonl', pages], ['gold.jsonl', gold]]) {
		fs.writeFileSync(path.join(dir, name + '.tmp'), jsonl(rows));
		fs.renameSync(path.join(dir, name + '.tmp'), path.join(dir, name));
	}
	const counts = {};
	for (const g of gold) for (const sp of g.spans) counts[sp.label] = (counts[sp.label] || 0) + 1;
	process.stderr.write(`gen-gold: ${pages.length} pages, ${Object.entries(counts).map(([k, v]) => k + '=' + v).join(' ')}\n`);
}

main(process.argv.slice(2));
