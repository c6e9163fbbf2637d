/*
 * rules_gaz.c: the gazetteers of the rules engine (flag states, world
 * ports, vessel types, organizations, learnt names) in one trie, matched
 * in one pass over the text.
 *
 * Keys are folded: Latin letters lose their diacritics and their case, and
 * combining marks are skipped, so "Gdańsk", "GDANSK" and a decomposed
 * "Gdan\u0301sk" reach the same node.  Case is checked after the match: a
 * name matches as written in its file or in capitals ("Santos" and
 * "SANTOS", not "santos"), which keeps common words out; vessel types match
 * in any case.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/confasset.h"
#include "apflow/labelset.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "core/rules_impl.h"

/* Latin-1 Supplement to Latin Extended-B (U+00C0..U+024F) and Latin
 * Extended Additional (U+1E00..U+1EFF): the base letter, '?' for none.
 * Written from Unicode's decompositions (NFD), plus Ø Đ Ł ı Ħ Ŧ. */
static const char fold_c0[] =
	"AAAAAA?CEEEEIIII?NOOOOO?OUUUUY??aaaaaa?ceeeeiiii?nooooo?ouuuuy?yAaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi??JjKk?LlLlLl??LlNnNnNn???OoOoOo??RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZz?????????????????????????????????Oo?????????????Uu????????????????????????????AaIiOoUuUuUuUuUu?AaAa????GgKkOoOo??j???Gg??NnAa????AaAaEeEeIiIiOoOoRrRrUuUuSsTt??Hh??????AaEeOoOoOoOoYy????????????????????????????";
static const char fold_1e[] =
	"AaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLlLlLlLlMmMmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVvWwWwWwWwWwXxXxYyZzZzZzhtwy??????AaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEeEeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYy??????";

uint32_t rl_fold(uint32_t cp)
{
	if (cp < 0xC0)
		return cp;
	if (cp >= 0x300 && cp <= 0x36F)
		return 0;
	if (cp <= 0x24F) {
		char c = fold_c0[cp - 0xC0];
		return c == '?' ? cp : (uint32_t)(unsigned char)c;
	}
	if (cp >= 0x1E00 && cp <= 0x1EFF) {
		char c = fold_1e[cp - 0x1E00];
		return c == '?' ? cp : (uint32_t)(unsigned char)c;
	}
	if (cp == 0x2019 || cp == 0x2018)
		return '\'';
	if (cp == 0x2010 || cp == 0x2011)
		return '-';
	return cp;
}

int rl_is_word_cp(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
	if (cp == 0xD7 || cp == 0xF7)
		return 0;
	return (cp >= 0xC0 && cp <= 0x24F) || (cp >= 0x300 && cp <= 0x52F) ||
	       (cp >= 0x1E00 && cp <= 0x1EFF);
}

uint32_t rl_cp(const char *s, size_t len, size_t i, size_t *n)
{
	unsigned char c = (unsigned char)s[i];
	uint32_t cp;

	if (c < 0x80) {
		*n = 1;
		return c;
	}
	*n = apf_utf8_decode(s + i, len - i, &cp);
	return cp;
}

size_t rl_prev(const char *s, size_t i)
{
	if (!i)
		return 0;
	i--;
	while (i && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

static uint32_t lower(uint32_t cp)
{
	return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
}

/* ---- building ---- */

static uint32_t new_node(struct gz *g)
{
	if (g->nnodes == g->anodes) {
		g->anodes = g->anodes ? g->anodes * 2 : 4096;
		g->nodes = apf_xrealloc(g->nodes, g->anodes * sizeof(*g->nodes));
	}
	g->nodes[g->nnodes].edge0 = GZ_NONE;
	g->nodes[g->nnodes].entry = -1;
	return (uint32_t)g->nnodes++;
}

/* One byte down the frozen trie; GZ_NONE when there is no such child. */
static inline uint32_t step(const struct gz *g, uint32_t node, unsigned char b)
{
	uint32_t f, n;

	if (node == 0)
		return g->fz_root[b] ? g->fz_root[b] : GZ_NONE;
	f = g->fz_first[node];
	n = g->fz_n[node];
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = g->fz_byte[f + i];

		if (c == b)
			return f + i;
		if (c > b)
			break;
	}
	return GZ_NONE;
}

static int edge_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return (*x > *y) - (*x < *y);
}

void gz_freeze(struct gz *g)
{
	uint32_t *order = apf_xcalloc(g->nnodes, sizeof(*order)); /* new id -> old id */
	uint32_t *newid = apf_xcalloc(g->nnodes, sizeof(*newid));
	uint64_t *kids = NULL;
	size_t head = 0, tail = 1, akids = 0;

	free(g->fz_first);
	free(g->fz_n);
	free(g->fz_byte);
	free(g->fz_entry);
	g->fz_first = apf_xcalloc(g->nnodes, sizeof(*g->fz_first));
	g->fz_n = apf_xcalloc(g->nnodes, sizeof(*g->fz_n));
	g->fz_byte = apf_xcalloc(g->nnodes, sizeof(*g->fz_byte));
	g->fz_entry = apf_xcalloc(g->nnodes, sizeof(*g->fz_entry));
	order[0] = 0;
	newid[0] = 0;
	/* Breadth first: a node's children get consecutive ids, sorted by byte. */
	while (head < tail) {
		uint32_t old = order[head], nid = (uint32_t)head;
		size_t nk = 0;

		head++;
		if (old == 0) {
			for (unsigned b = 0; b < 256; b++)
				if (g->root[b]) {
					if (nk == akids)
						kids = apf_xrealloc(kids, (akids = akids ? akids * 2 : 256) * sizeof(*kids));
					kids[nk++] = (uint64_t)b << 32 | g->root[b];
				}
		} else {
			for (uint32_t e = g->nodes[old].edge0; e != GZ_NONE; e = g->edges[e].next) {
				if (nk == akids)
					kids = apf_xrealloc(kids, (akids = akids ? akids * 2 : 256) * sizeof(*kids));
				kids[nk++] = (uint64_t)g->edges[e].byte << 32 | g->edges[e].child;
			}
		}
		qsort(kids, nk, sizeof(*kids), edge_cmp);
		g->fz_first[nid] = (uint32_t)tail;
		g->fz_n[nid] = (uint16_t)nk;
		g->fz_entry[nid] = g->nodes[old].entry;
		for (size_t k = 0; k < nk; k++) {
			uint32_t child = (uint32_t)kids[k];

			order[tail] = child;
			newid[child] = (uint32_t)tail;
			g->fz_byte[tail] = (uint8_t)(kids[k] >> 32);
			if (old == 0)
				g->fz_root[kids[k] >> 32] = (uint32_t)tail;
			tail++;
		}
	}
	free(kids);
	free(order);
	free(newid);
}


static uint32_t child(struct gz *g, uint32_t node, unsigned char b, int create)
{
	uint32_t e;

	if (node == 0) {
		if (!g->root[b] && create)
			g->root[b] = new_node(g);
		return g->root[b] ? g->root[b] : GZ_NONE;
	}
	for (e = g->nodes[node].edge0; e != GZ_NONE; e = g->edges[e].next)
		if (g->edges[e].byte == b)
			return g->edges[e].child;
	if (!create)
		return GZ_NONE;
	if (g->nedges == g->aedges) {
		g->aedges = g->aedges ? g->aedges * 2 : 4096;
		g->edges = apf_xrealloc(g->edges, g->aedges * sizeof(*g->edges));
	}
	e = (uint32_t)g->nedges++;
	g->edges[e].byte = b;
	g->edges[e].child = new_node(g);
	g->edges[e].next = g->nodes[node].edge0;
	g->nodes[node].edge0 = e;
	return g->edges[e].child;
}

/*
 * Adds one name.  Whitespace runs become one space; a name that folds to
 * nothing, or to one character, is skipped.
 */
static void add_name(struct gz *g, const char *name, size_t len, enum gz_kind kind, int sub,
		     const char *label)
{
	struct apf_buf form;
	uint32_t node = 0;
	size_t i = 0, n, chars = 0;
	int space = 0;

	apf_buf_init(&form, 0);
	while (i < len) {
		uint32_t cp = rl_cp(name, len, i, &n);
		char u[4];
		size_t ul;

		i += n;
		if (cp == ' ' || cp == '\t' || cp == 0xA0) {
			space = chars > 0;
			continue;
		}
		cp = rl_fold(cp);
		if (!cp)
			continue;
		if (space) {
			apf_buf_add(&form, " ", 1);
			node = child(g, node, ' ', 1);
			space = 0;
		}
		ul = apf_utf8_encode(cp, u);
		apf_buf_add(&form, u, ul);
		ul = apf_utf8_encode(lower(cp), u);
		for (size_t k = 0; k < ul; k++)
			node = child(g, node, (unsigned char)u[k], 1);
		chars++;
	}
	if (chars < 2) {
		apf_buf_release(&form);
		return;
	}
	/* The same name twice in one kind: keep one. */
	for (int32_t e = g->nodes[node].entry; e >= 0; e = g->entries[e].next)
		if (g->entries[e].kind == kind && !strcmp(g->entries[e].form, form.data) &&
		    g->entries[e].label == label && g->entries[e].sub == sub) {
			apf_buf_release(&form);
			return;
		}
	if (g->nentries == g->aentries) {
		g->aentries = g->aentries ? g->aentries * 2 : 1024;
		g->entries = apf_xrealloc(g->entries, g->aentries * sizeof(*g->entries));
	}
	g->entries[g->nentries].form = apf_buf_detach(&form, NULL);
	g->entries[g->nentries].label = label;
	g->entries[g->nentries].kind = (uint8_t)kind;
	g->entries[g->nentries].any_case = kind == GZ_TYPE || kind == GZ_FIELD;
	g->entries[g->nentries].sub = (uint8_t)sub;
	g->entries[g->nentries].next = g->nodes[node].entry;
	g->nodes[node].entry = (int32_t)g->nentries++;
}

/* Adds the names of a file's text: one a line, '#' starts a comment line. */
static int add_text(struct gz *g, const char *what, const char *data, size_t len,
		    enum gz_kind kind, int sub, const char *label, struct apf_err *err)
{
	size_t bad;

	if (apf_utf8_validate(data, len, &bad))
		return apf_error(err, APF_EINVAL, "cannot read gazetteer '%s': invalid UTF-8 at byte %zu",
				 what, bad);
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - data) : len, b = i, t = e;

		i = e + 1;
		while (b < t && (data[b] == ' ' || data[b] == '\t'))
			b++;
		while (t > b && (data[t - 1] == ' ' || data[t - 1] == '\t' || data[t - 1] == '\r'))
			t--;
		if (b == t || data[b] == '#')
			continue;
		add_name(g, data + b, t - b, kind, sub, label);
	}
	return 0;
}

void gz_add_names(struct gz *g, const char *const *names, enum gz_kind kind, int sub, const char *label)
{
	if (!g->nnodes)
		new_node(g);
	for (; *names; names++)
		add_name(g, *names, strlen(*names), kind, sub, label);
}

static const struct {
	const char *file;
	enum gz_kind kind;
	int sub;
	const char *label;
} bundled[] = {
	{ "gazetteers/ports.txt", GZ_PORT, 0, "PORT" },
	{ "gazetteers/ports_extra.txt", GZ_PORT, 0, "PORT" },
	{ "gazetteers/ports_context.txt", GZ_PORT, GZ_PORT_NEEDS_CONTEXT, "PORT" },
	{ "gazetteers/flags.txt", GZ_FLAG, 0, "FLAG_STATE" },
	{ "gazetteers/flag_adjectives.txt", GZ_FLAGADJ, 0, "FLAG_STATE" },
	{ "gazetteers/vessel_types.txt", GZ_TYPE, 0, "VESSEL_TYPE" },
	{ "gazetteers/organizations.txt", GZ_ORG, 0, "ORGANIZATION" },
};

/* The static name of a label of labelset v1, or NULL. */
static const char *label_name(const char *name)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	int i = apf_labelset_find(ls, name);

	return i < 0 ? NULL : ls->labels[i].name;
}

int gz_load_bundled(struct gz *g, struct apf_err *err)
{
	if (!g->nnodes)
		new_node(g); /* node 0: the root */
	for (size_t i = 0; i < sizeof(bundled) / sizeof(bundled[0]); i++) {
		const struct apf_asset *a = apf_config_asset_find(bundled[i].file);
		const char *label = label_name(bundled[i].label);
		int rc;

		if (!a || !label)
			return apf_error(err, APF_EINTERNAL, "gazetteer '%s' is not compiled in",
					 bundled[i].file);
		rc = add_text(g, bundled[i].file, (const char *)a->data, a->size, bundled[i].kind,
			      bundled[i].sub, label, err);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Learnt gazetteers: <LABEL>.v<N>.txt, the highest N of each label.  Other
 * files are left alone; a file named for a label outside the labelset is an
 * error, so that a typo does not silently drop names.
 */
int gz_load_dir(struct gz *g, const char *dir, struct apf_err *err)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	long best[32];
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (!ls || ls->n > 32)
		return apf_error(err, APF_EINTERNAL, "labelset v1 is not compiled in");
	for (size_t i = 0; i < ls->n; i++)
		best[i] = -1;
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return apf_error(err, APF_EIO, "cannot open '%s': %s", dir, strerror(errno));
	}
	while ((de = readdir(d))) {
		const char *nm = de->d_name, *v = strstr(nm, ".v");
		char label[64];
		char *end;
		long n;
		int li;

		if (nm[0] == '.' || !v || !apf_ends_with(nm, ".txt") || (size_t)(v - nm) >= sizeof(label))
			continue;
		n = strtol(v + 2, &end, 10);
		if (end == v + 2 || strcmp(end, ".txt") || n < 0)
			continue;
		memcpy(label, nm, (size_t)(v - nm));
		label[v - nm] = 0;
		li = apf_labelset_find(ls, label);
		if (li < 0) {
			rc = apf_error(err, APF_EINVAL, "cannot use gazetteer '%s/%s': no label '%s' in labelset %s",
				       dir, nm, label, ls->version);
			break;
		}
		if (n > best[li])
			best[li] = n;
	}
	closedir(d);
	if (rc)
		return rc;
	if (!g->nnodes)
		new_node(g);
	for (size_t i = 0; i < ls->n && !rc; i++) {
		char *path, *data = NULL;
		size_t len;

		if (best[i] < 0)
			continue;
		path = apf_xasprintf("%s/%s.v%ld.txt", dir, ls->labels[i].name, best[i]);
		rc = apf_read_file(path, 64u << 20, &data, &len, err);
		if (!rc)
			rc = add_text(g, path, data, len, GZ_LEARNT, 0, ls->labels[i].name, err);
		free(data);
		free(path);
	}
	return rc;
}

void gz_release(struct gz *g)
{
	for (size_t i = 0; i < g->nentries; i++)
		free(g->entries[i].form);
	free(g->entries);
	free(g->fz_first);
	free(g->fz_n);
	free(g->fz_byte);
	free(g->fz_entry);
	free(g->nodes);
	free(g->edges);
	memset(g, 0, sizeof(*g));
}

/* ---- matching ---- */

/* The text [s, e) folded with its case kept, into buf (cap n); 0 if too long. */
static size_t fold_text(const char *t, size_t len, size_t s, size_t e, char *buf, size_t cap)
{
	size_t o = 0, n;

	for (size_t i = s; i < e; i += n) {
		uint32_t cp = rl_fold(rl_cp(t, len, i, &n));
		char u[4];
		size_t ul;

		if (!cp)
			continue;
		ul = apf_utf8_encode(cp, u);
		if (o + ul >= cap)
			return 0;
		memcpy(buf + o, u, ul);
		o += ul;
	}
	buf[o] = 0;
	return o;
}

static int case_ok(const struct gz_entry *en, const char *fold, size_t flen)
{
	size_t i;
	int caps = 1;

	if (en->any_case)
		return 1;
	if (!strcmp(en->form, fold))
		return 1;
	if (strlen(en->form) != flen)
		return 0;
	for (i = 0; i < flen; i++) {
		unsigned char a = (unsigned char)en->form[i], b = (unsigned char)fold[i];

		if (b >= 'a' && b <= 'z')
			caps = 0;
		if (a >= 'a' && a <= 'z')
			a = (unsigned char)(a - 32);
		if (a != b)
			return 0;
	}
	return caps;
}

static void push_hit(struct gz_hits *out, size_t s, size_t e, int32_t entry)
{
	if (out->n == out->alloc) {
		out->alloc = out->alloc ? out->alloc * 2 : 64;
		out->v = apf_xrealloc(out->v, out->alloc * sizeof(*out->v));
	}
	out->v[out->n].start = s;
	out->v[out->n].end = e;
	out->v[out->n].entry = entry;
	out->n++;
}

#define GZ_MAX_ENDS 16

void gz_scan(const struct gz *g, const char *t, size_t len, struct gz_hits *out)
{
	int prev_word = 0;
	size_t i = 0, n;

	while (i < len) {
		unsigned char c0 = (unsigned char)t[i];
		uint32_t cp;

		/* Fast path: ASCII that cannot start a name. */
		if (c0 < 0x80 && !((c0 | 0x20) >= 'a' && (c0 | 0x20) <= 'z') && !(c0 >= '0' && c0 <= '9')) {
			prev_word = 0;
			i++;
			continue;
		}
		cp = rl_cp(t, len, i, &n);
		if (prev_word || !rl_is_word_cp(cp) || (cp >= 0x300 && cp <= 0x36F)) {
			prev_word = rl_is_word_cp(cp);
			i += n;
			continue;
		}
		/* A word starts at i: walk the trie. */
		{
			uint32_t node = 0;
			size_t j = i, ends[GZ_MAX_ENDS];
			uint32_t nodes[GZ_MAX_ENDS];
			int nends = 0;

			while (j < len) {
				size_t m;
				uint32_t c = (unsigned char)t[j], f;

				if (c < 0x80) {
					if (c == '\n')
						break;
					node = step(g, node, (unsigned char)lower(c));
					m = 1;
				} else {
					char u[4];
					size_t ul;

					c = rl_cp(t, len, j, &m);
					f = rl_fold(c);
					if (!f) { /* a combining mark inside the name */
						j += m;
						continue;
					}
					ul = apf_utf8_encode(lower(f), u);
					for (size_t k = 0; k < ul && node != GZ_NONE; k++)
						node = step(g, node, (unsigned char)u[k]);
				}
				if (node == GZ_NONE)
					break;
				j += m;
				while (j < len && (unsigned char)t[j] >= 0x80) { /* marks that follow belong to this letter */
					size_t mm;
					uint32_t cc = rl_cp(t, len, j, &mm);

					if (cc < 0x300 || cc > 0x36F)
						break;
					j += mm;
				}
				if (g->fz_entry[node] >= 0) {
					int boundary = 1;

					if (j < len) {
						size_t mm;

						boundary = !rl_is_word_cp(rl_cp(t, len, j, &mm)) ||
							   !rl_is_word_cp(c);
					}
					if (boundary) {
						if (nends == GZ_MAX_ENDS) {
							memmove(ends, ends + 1, sizeof(ends[0]) * (GZ_MAX_ENDS - 1));
							memmove(nodes, nodes + 1, sizeof(nodes[0]) * (GZ_MAX_ENDS - 1));
							nends--;
						}
						ends[nends] = j;
						nodes[nends] = node;
						nends++;
					}
				}
			}
			/* Longest first; at one end, every kind whose case fits. */
			while (nends > 0) {
				char fold[512];
				size_t flen;
				int found = 0;

				nends--;
				flen = fold_text(t, len, i, ends[nends], fold, sizeof(fold));
				if (!flen)
					continue;
				for (int32_t e = g->fz_entry[nodes[nends]]; e >= 0; e = g->entries[e].next) {
					int dup = 0;

					if (!case_ok(&g->entries[e], fold, flen))
						continue;
					for (size_t h = out->n; h-- > 0 && out->v[h].start == i;)
						if (g->entries[out->v[h].entry].kind == g->entries[e].kind &&
						    g->entries[out->v[h].entry].label == g->entries[e].label &&
						    g->entries[out->v[h].entry].sub == g->entries[e].sub)
							dup = 1;
					if (!dup)
						push_hit(out, i, ends[nends], e);
					found = 1;
				}
				if (found)
					break;
			}
		}
		prev_word = 1;
		i += n;
	}
}
