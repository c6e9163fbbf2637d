#!/usr/bin/env bash
# apflow init: creates every table, sequence and view of DESIGN.md's
# "Warehouse" once, in version order; a second run changes nothing (same
# schema dump, same file bytes) and says so; --dry-run creates nothing;
# --json; the DDL files also run as they are, as from a DuckDB shell.
. "$(dirname "$0")/../lib.sh"

# The schema as DuckDB describes it, everything but the migrations table.
cat >schema.sql <<'EOF'
SELECT 'table' AS kind, database_name AS db, table_name AS name, sql
FROM duckdb_tables() WHERE database_name IN ('md_raw_ocr', 'md_annotated') AND table_name <> 'schema_migrations'
UNION ALL
SELECT 'view', database_name, view_name, sql
FROM duckdb_views() WHERE database_name IN ('md_raw_ocr', 'md_annotated')
UNION ALL
SELECT 'sequence', database_name, sequence_name,
       sql || ' -- last ' || coalesce(CAST(last_value AS VARCHAR), 'none')
FROM duckdb_sequences() WHERE database_name IN ('md_raw_ocr', 'md_annotated')
UNION ALL
SELECT 'column', database_name, table_name || '.' || column_name,
       data_type || coalesce(' DEFAULT ' || column_default, '') || CASE WHEN is_nullable THEN '' ELSE ' NOT NULL' END
FROM duckdb_columns() WHERE database_name IN ('md_raw_ocr', 'md_annotated') AND table_name <> 'schema_migrations'
ORDER BY ALL;
EOF
cat >migrations.sql <<'EOF'
SELECT 'md_raw_ocr' AS db, version, name, length(sha256) AS sha_len, applied_at, apflow_version
FROM md_raw_ocr.main.schema_migrations
UNION ALL
SELECT 'md_annotated', version, name, length(sha256), applied_at, apflow_version
FROM md_annotated.main.schema_migrations
ORDER BY ALL;
EOF

# Every V###__ file, in version order, and the database each one names.
migs=$(cd "$APFLOW_TOP/sql/motherduck" && ls V[0-9][0-9][0-9]__*.sql | sort)
mig_db() { sed -n 's/^-- database: //p' "$APFLOW_TOP/sql/motherduck/$1" | head -n 1; }
json_list() { printf '%s\n' "$@" | sed 's/.*/"&"/' | paste -sd, -; }
lines() { local prefix=$1; shift; printf "$prefix%s\n" "$@"; }
all_json=$(json_list $migs)
t_eq "every migration names its database" "" \
	"$(for m in $migs; do case "$(mig_db "$m")" in md_raw_ocr|md_annotated) ;; *) echo "$m"; esac; done)"

# --dry-run on nothing: says what it would do and creates no file.
t_rc 0 "init --dry-run on a fresh data dir exits 0" "$APFLOW" init --dry-run
t_eq "dry run names every file" "$(lines 'would apply ' $migs)" "$(cat "$T_OUT")"
t_rc 1 "dry run created no data dir" test -e data
t_rc 0 "init --dry-run --json" "$APFLOW" init --dry-run --json
t_eq "dry-run JSON" "{\"dry_run\":true,\"applied\":[],\"pending\":[$all_json],\"current\":[]}" \
	"$(cat "$T_OUT")"

# The first run applies both, in order.
t_rc 0 "init exits 0" "$APFLOW" init
t_eq "init names what it applied" "$(lines 'applied ' $migs)" "$(cat "$T_OUT")"
t_eq "init is quiet on stderr" "" "$(cat "$T_ERR")"
t_ok "md_raw_ocr.duckdb exists" test -f data/md_raw_ocr.duckdb
t_ok "md_annotated.duckdb exists" test -f data/md_annotated.duckdb
t_ok "schema dump" "$APFLOW" sql --csv schema.sql
cp "$T_OUT" schema1.csv
t_ok "migrations dump" "$APFLOW" sql --csv migrations.sql
cp "$T_OUT" migrations1.csv
t_eq "each file recorded once, in its database, with a SHA-256" \
	"$(for m in $migs; do echo "$(mig_db "$m"),$((10#${m:1:3})),$m,64,TIME,VERSION"; done | LC_ALL=C sort)" \
	"$(sed 1d migrations1.csv | sed -E 's/,[0-9-]+ [0-9:.]+\+00,[0-9]+\.[0-9]+\.[0-9]+$/,TIME,VERSION/')"
sha256sum data/*.duckdb >files1.sha

# The second run changes nothing.
t_rc 0 "init again exits 0" "$APFLOW" init
t_eq "init again: up to date" "warehouse is up to date" "$(cat "$T_OUT")"
"$APFLOW" sql --csv schema.sql >schema2.csv
"$APFLOW" sql --csv migrations.sql >migrations2.csv
t_ok "same schema after the second run" cmp schema1.csv schema2.csv
t_ok "same migration records after the second run" cmp migrations1.csv migrations2.csv
t_ok "the database files did not change a byte" sha256sum --quiet -c files1.sha
t_rc 0 "init --json when up to date" "$APFLOW" init --json
t_eq "up-to-date JSON" "{\"dry_run\":false,\"applied\":[],\"pending\":[],\"current\":[$all_json]}" \
	"$(cat "$T_OUT")"
t_rc 0 "init --dry-run when up to date" "$APFLOW" init --dry-run
t_eq "dry run: up to date" "warehouse is up to date" "$(cat "$T_OUT")"

# Every table with its columns, types and NOT NULLs, and the view.
cat >cols.sql <<'EOF'
SELECT database_name || '.' || table_name AS t,
       string_agg(column_name || ' ' || data_type || CASE WHEN is_nullable THEN '' ELSE ' NOT NULL' END,
                  ', ' ORDER BY column_index) AS columns
FROM duckdb_columns()
WHERE database_name IN ('md_raw_ocr', 'md_annotated')
GROUP BY ALL ORDER BY ALL;
EOF
t_ok "columns" "$APFLOW" sql --csv cols.sql
TZ_='TIMESTAMP WITH TIME ZONE'
t_eq "tables, view and columns" "t,columns
md_annotated.annotations_exports,\"export_run_id BIGINT NOT NULL, argilla_dataset VARCHAR NOT NULL, source_uri VARCHAR NOT NULL, source_sha256 VARCHAR NOT NULL, exported_at $TZ_, loaded_at $TZ_ NOT NULL, pages INTEGER NOT NULL, spans INTEGER NOT NULL, records INTEGER, converted_spans INTEGER, suggestions INTEGER\"
md_annotated.annotations_pages,\"export_run_id BIGINT NOT NULL, doc_id VARCHAR NOT NULL, page_num INTEGER NOT NULL, annotator VARCHAR NOT NULL, argilla_dataset VARCHAR NOT NULL, text_sha256 VARCHAR, status VARCHAR, submitted_at $TZ_, annotator_id VARCHAR\"
md_annotated.annotations_spans,\"export_run_id BIGINT NOT NULL, doc_id VARCHAR NOT NULL, page_num INTEGER NOT NULL, annotator VARCHAR NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, label VARCHAR NOT NULL, span_text VARCHAR, offsets_converted BOOLEAN NOT NULL, argilla_dataset VARCHAR\"
md_annotated.annotations_suggestions,\"export_run_id BIGINT NOT NULL, doc_id VARCHAR NOT NULL, page_num INTEGER NOT NULL, agent VARCHAR NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, label VARCHAR NOT NULL, score DOUBLE\"
md_annotated.schema_migrations,\"version INTEGER NOT NULL, name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, applied_at $TZ_ NOT NULL, apflow_version VARCHAR\"
md_annotated.vw_annotations_latest_pages,\"export_run_id BIGINT, doc_id VARCHAR, page_num INTEGER, annotator VARCHAR, argilla_dataset VARCHAR, text_sha256 VARCHAR, status VARCHAR, submitted_at $TZ_, annotator_id VARCHAR\"
md_annotated.vw_annotations_latest_runs,\"argilla_dataset VARCHAR, doc_id VARCHAR, page_num INTEGER, export_run_id BIGINT\"
md_annotated.vw_annotations_latest_spans,\"export_run_id BIGINT, doc_id VARCHAR, page_num INTEGER, annotator VARCHAR, start INTEGER, end INTEGER, label VARCHAR, span_text VARCHAR, offsets_converted BOOLEAN, argilla_dataset VARCHAR, status VARCHAR, text_sha256 VARCHAR\"
md_raw_ocr.documents,\"doc_id VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, filename VARCHAR, bytes BIGINT NOT NULL, pages INTEGER, uploaded_at $TZ_ NOT NULL, status VARCHAR NOT NULL\"
md_raw_ocr.ocr_failures,\"doc_id VARCHAR NOT NULL, page_num INTEGER, ocr_run_id BIGINT NOT NULL, engine VARCHAR, error VARCHAR NOT NULL, created_at $TZ_ NOT NULL\"
md_raw_ocr.ocr_runs,\"ocr_run_id BIGINT NOT NULL, engine VARCHAR NOT NULL, model VARCHAR, params VARCHAR, started_at $TZ_ NOT NULL, finished_at $TZ_, docs INTEGER NOT NULL, pages INTEGER NOT NULL, failed INTEGER NOT NULL, status VARCHAR NOT NULL\"
md_raw_ocr.pages,\"doc_id VARCHAR NOT NULL, page_num INTEGER NOT NULL, ocr_run_id BIGINT NOT NULL, engine VARCHAR NOT NULL, model VARCHAR, text VARCHAR NOT NULL, text_sha256 VARCHAR NOT NULL, chars INTEGER NOT NULL, confidence DOUBLE, created_at $TZ_ NOT NULL\"
md_raw_ocr.preannotate_cache,\"text_sha256 VARCHAR NOT NULL, model VARCHAR NOT NULL, prompt_version VARCHAR NOT NULL, answer VARCHAR NOT NULL, requests INTEGER NOT NULL, created_at $TZ_ NOT NULL\"
md_raw_ocr.schema_migrations,\"version INTEGER NOT NULL, name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, applied_at $TZ_ NOT NULL, apflow_version VARCHAR\"
md_raw_ocr.uploads,\"upload_id BIGINT NOT NULL, doc_id VARCHAR NOT NULL, filename VARCHAR, bytes BIGINT NOT NULL, sha256 VARCHAR NOT NULL, duplicate BOOLEAN NOT NULL, source VARCHAR, client VARCHAR, uploaded_at $TZ_ NOT NULL\"
md_raw_ocr.vw_argilla_pages,\"doc_id VARCHAR, page_num INTEGER, record_id VARCHAR, ocr_run_id BIGINT, engine VARCHAR, model VARCHAR, text VARCHAR, text_sha256 VARCHAR, chars INTEGER, confidence DOUBLE, created_at $TZ_, filename VARCHAR\"" \
	"$(cat "$T_OUT")"

cat >keys.sql <<'EOF'
SELECT database_name || '.' || table_name AS t, constraint_type AS type,
       array_to_string(constraint_column_names, ',') AS cols
FROM duckdb_constraints()
WHERE database_name IN ('md_raw_ocr', 'md_annotated') AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')
ORDER BY ALL;
EOF
t_ok "keys" "$APFLOW" sql --csv keys.sql
t_eq "primary keys and the unique export checksum" "t,type,cols
md_annotated.annotations_exports,PRIMARY KEY,export_run_id
md_annotated.annotations_exports,UNIQUE,source_sha256
md_annotated.annotations_pages,PRIMARY KEY,\"export_run_id,doc_id,page_num,annotator\"
md_annotated.annotations_suggestions,PRIMARY KEY,\"export_run_id,doc_id,page_num,agent,start,end,label\"
md_annotated.schema_migrations,PRIMARY KEY,version
md_raw_ocr.documents,PRIMARY KEY,doc_id
md_raw_ocr.ocr_runs,PRIMARY KEY,ocr_run_id
md_raw_ocr.pages,PRIMARY KEY,\"doc_id,page_num,ocr_run_id\"
md_raw_ocr.preannotate_cache,PRIMARY KEY,\"text_sha256,model,prompt_version\"
md_raw_ocr.schema_migrations,PRIMARY KEY,version
md_raw_ocr.uploads,PRIMARY KEY,upload_id" "$(cat "$T_OUT")"

printf "SELECT database_name || '.' || sequence_name AS s FROM duckdb_sequences() ORDER BY ALL;\n" >seq.sql
t_ok "sequences" "$APFLOW" sql --csv seq.sql
t_eq "a sequence for each generated id" "s
md_annotated.export_run_id_seq
md_raw_ocr.ocr_run_id_seq
md_raw_ocr.upload_id_seq" "$(cat "$T_OUT")"

# The view gives each page's latest OCR run, with the document's filename.
cat >view.sql <<'EOF'
INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages)
VALUES ('0123456789abcdef0123', 'f00', 'a.pdf', 10, 2);
INSERT INTO md_raw_ocr.main.ocr_runs (engine) VALUES ('auto'), ('deepseek');
INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars) VALUES
  ('0123456789abcdef0123', 1, 1, 'mupdf', 'one, first run', 'h11', 14),
  ('0123456789abcdef0123', 1, 2, 'deepseek', 'one, second run', 'h12', 15),
  ('0123456789abcdef0123', 2, 1, 'tesseract', 'two', 'h21', 3);
SELECT record_id, ocr_run_id, engine, text, filename FROM md_raw_ocr.main.vw_argilla_pages ORDER BY ALL;
EOF
t_ok "the view over two OCR runs" "$APFLOW" sql --csv view.sql
t_eq "latest run per page" "record_id,ocr_run_id,engine,text,filename
0123456789abcdef0123:1,2,deepseek,\"one, second run\",a.pdf
0123456789abcdef0123:2,1,tesseract,two,a.pdf" "$(cat "$T_OUT")"
t_rc 0 "init after data went in: still up to date" "$APFLOW" init
t_eq "nothing re-applied" "warehouse is up to date" "$(cat "$T_OUT")"

# The DDL files run as they are (as from a DuckDB shell) and give the same schema.
for m in $migs; do
	t_ok "$m runs as is with apflow sql" "$APFLOW" --data-dir shell sql "$APFLOW_TOP/sql/motherduck/$m"
done
t_ok "V001 runs twice" "$APFLOW" --data-dir shell sql "$APFLOW_TOP/sql/motherduck/V001__raw_ocr.sql"
"$APFLOW" --data-dir shell sql --csv schema.sql >schema3.csv
t_ok "same schema as init's" cmp schema1.csv schema3.csv

# The data directory from the environment; errors.
t_rc 0 "APFLOW_DATA_DIR is honoured" env APFLOW_DATA_DIR=envdir "$APFLOW" init
t_ok "... and the files are there" test -f envdir/md_annotated.duckdb
t_rc 1 "an unknown warehouse fails" "$APFLOW" --warehouse postgres init
t_eq "... saying which" "apflow: error: unknown warehouse 'postgres': expected local or motherduck" "$(cat "$T_ERR")"
t_rc 1 "MotherDuck without a token fails before any network" "$APFLOW" --warehouse motherduck init
t_eq "... saying what is missing" "apflow: error: warehouse 'motherduck' needs a token: set motherduck_token" "$(cat "$T_ERR")"
t_rc 1 "a bad lock_timeout fails" "$APFLOW" -c lock_timeout=soon init
t_eq "... naming it" "apflow: error: bad lock_timeout 'soon': expected a number of seconds" "$(cat "$T_ERR")"
APFLOW_DUCKDB_LIB=/nonexistent/libduckdb.so t_rc 1 "init without a loadable DuckDB fails" "$APFLOW" init
t_eq "... saying what and how to fix it" "apflow: error: cannot load DuckDB (/nonexistent/libduckdb.so): \
/nonexistent/libduckdb.so: cannot open shared object file: No such file or directory; run scripts/install-deps.sh" \
	"$(cat "$T_ERR")"
# The release build loads DuckDB otherwise (RTLD_DEEPBIND, which ASan refuses).
if [ -x "$APFLOW_TOP/apflow" ]; then
	t_rc 0 "the release build initialises a warehouse" "$APFLOW_TOP/apflow" --data-dir rel init
	t_rc 0 "... and reads it" "$APFLOW_TOP/apflow" --data-dir rel sql --csv migrations.sql
	t_eq "... with every file applied" "$(( $(echo $migs | wc -w) + 1 ))" "$(wc -l <"$T_OUT")"
fi
t_rc 2 "an unknown option is a usage error" "$APFLOW" init --force
t_eq "... naming it" "apflow init: unknown option '--force' (see 'apflow init --help')" "$(cat "$T_ERR")"
t_rc 2 "an argument is a usage error" "$APFLOW" init now
mkdir ro && chmod 500 ro
if [ "$(id -u)" != 0 ]; then
	t_rc 1 "a data dir that cannot be created fails" "$APFLOW" --data-dir ro/data init
	t_match "... naming it" "^apflow: error: cannot create directory 'ro/data': Permission denied$" "$(cat "$T_ERR")"
fi

t_done
