/* version.h: apflow's version and the versions of the libraries it uses. */
#ifndef APFLOW_VERSION_H
#define APFLOW_VERSION_H

#define APFLOW_VERSION "0.1.0"

const char *apf_pdf_library_version(void);  /* MuPDF, from pdf.c */
const char *apf_ocr_library_version(void);  /* Tesseract, from ocr.c */
const char *apf_http_library_version(void); /* libcurl, from http.c */
/* DuckDB: apf_db_library_version() in db.h */

#endif
