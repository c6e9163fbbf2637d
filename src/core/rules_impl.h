/*
 * rules_impl.h: what rules.c and rules_gaz.c share (the gazetteer trie and
 * the text helpers); not part of the API.
 */
#ifndef APFLOW_RULES_IMPL_H
#define APFLOW_RULES_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/err.h"

/* What a gazetteer entry is; decides the label and which context it needs. */
enum gz_kind {
	GZ_PORT,
	GZ_FLAG,     /* a country or register name */
	GZ_FLAGADJ,  /* "Liberian": a flag only before "-flagged" / "flag" */
	GZ_TYPE,     /* vessel types: any case */
	GZ_ORG,
	GZ_LEARNT,   /* <LABEL>.v<N>.txt of opts.extra_gazetteer_dir */
	GZ_ORGSUF,   /* legal suffixes of company names (Ltd, S.A.) */
	GZ_MONTH,    /* month names: where a date may start */
	GZ_FIELD,    /* names of fields ("Call sign", "Owner"): any case */
	GZ_UNIT,     /* tonnage units after a figure ("GT", "dwt") */
	GZ_VPREFIX,  /* M/V, MT, SS ... before a vessel's name */
	GZ_VWORD,    /* vessel, ship, boat: a name may follow */
};

struct gz_entry {
	char *form;        /* the entry folded without diacritics, case kept */
	const char *label; /* static: from the labelset */
	uint8_t kind;
	uint8_t any_case;
	uint8_t sub;       /* GZ_FIELD: which field; GZ_PORT: GZ_PORT_NEEDS_CONTEXT */
	int32_t next;      /* next entry ending at the same trie node, or -1 */
};

struct gz_node {
	uint32_t edge0;  /* first edge in gz.edges, or GZ_NONE */
	int32_t entry;   /* first entry ending here, or -1 */
};

/* Edges of a node are a list through next (the root has a table too). */
struct gz_edge {
	uint32_t child;
	uint32_t next;
	uint8_t byte;
};

#define GZ_NONE UINT32_MAX
#define GZ_PORT_NEEDS_CONTEXT 1

struct gz {
	struct gz_node *nodes;
	size_t nnodes, anodes;
	struct gz_edge *edges;
	size_t nedges, aedges;
	uint32_t root[256]; /* the root's children by byte; 0: none */
	struct gz_entry *entries;
	size_t nentries, aentries;
	/* After gz_freeze(): every edge in an open-addressing hash table,
	 * key (node << 8 | byte) + 1, for one probe per character. */
	/* After gz_freeze(): the trie again, nodes renumbered breadth first
	 * so that the children of a node are consecutive, with their bytes in
	 * one small array: a walk reads a few nearby cache lines. */
	uint32_t *fz_first;  /* first child */
	uint16_t *fz_n;      /* number of children */
	uint8_t *fz_byte;    /* the byte that leads to a node, sorted among siblings */
	int32_t *fz_entry;   /* first entry ending at a node, or -1 */
	uint32_t fz_root[256];
};

/* One gazetteer hit: bytes [start, end) of the text. */
struct gz_hit {
	size_t start, end;
	int32_t entry;
};

struct gz_hits {
	struct gz_hit *v;
	size_t n, alloc;
};

int gz_load_bundled(struct gz *g, struct apf_err *err);
int gz_load_dir(struct gz *g, const char *dir, struct apf_err *err);
/* Adds names given in code (kind and label); a NULL-terminated list. */
void gz_add_names(struct gz *g, const char *const *names, enum gz_kind kind, int sub, const char *label);
/* Builds the lookup table; call once after the last load. */
void gz_freeze(struct gz *g);
void gz_release(struct gz *g);

/*
 * One pass over text: at each word start, the longest entries of every kind
 * that end on a word boundary (several kinds may end at the same place: a
 * name that is both a port and a flag gives two hits).
 */
void gz_scan(const struct gz *g, const char *text, size_t len, struct gz_hits *out);

/* Decodes the code point at s[i] (valid UTF-8), stores its length. */
uint32_t rl_cp(const char *s, size_t len, size_t i, size_t *n);
/* The start of the code point that ends just before s[i]. */
size_t rl_prev(const char *s, size_t i);
/* Letters and digits of Latin, Greek and Cyrillic, and combining marks. */
int rl_is_word_cp(uint32_t cp);
/* Folds a code point: Latin letters to their ASCII base letter (case
 * kept), combining marks to 0 (dropped); others unchanged. */
uint32_t rl_fold(uint32_t cp);

#endif
