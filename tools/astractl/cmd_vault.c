/*
 * astractl vault init|info|check|gc|repair|change-password and data
 * backup|restore|list|forget SPDX-License-Identifier: Apache-2.0
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static astra_cancel *sig_token;

static void on_signal(int sig)
{
	(void)sig;
	astra_cancel_request(sig_token);
}

/* SIGINT/SIGTERM cancel the running operation cleanly. */
/* A cancel token that SIGINT and SIGTERM request (NULL when none could be
 * made: the command then runs to its end). */
astra_cancel *ctl_new_cancel(void)
{
	astra_cancel *tok = NULL;
	if (astra_cancel_new(&tok) != 0)
		return NULL;
	sig_token = tok;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return tok;
}

static const char *vault_url(const ctl_globals *g, char *buf, size_t n)
{
	if (g->vault)
		return g->vault;
	const char *env = getenv("ASTRA_VAULT");
	if (env && *env)
		return env;
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	if (xdg && *xdg)
		snprintf(buf, n, "file://%s/astra/vault", xdg);
	else
		snprintf(buf, n, "file://%s/.local/share/astra/vault",
		        home ? home : "");
	return buf;
}

static int open_vault(const ctl_globals *g, int create, astra_vault **out,
        const ctl_args *init_args)
{
	char urlbuf[4096];
	const char *url = vault_url(g, urlbuf, sizeof(urlbuf));
	astra_vault_options o = ASTRA_VAULT_OPTIONS_INIT;
	const char *envpw = getenv("ASTRA_VAULT_PASSWORD");
	if (g->password_file)
		o.password_file = g->password_file;
	else if (envpw && *envpw)
		o.password = envpw;
	else
		return ctl_usage_error("the vault needs a password: use "
		                       "--password-file PATH or set "
		                       "$ASTRA_VAULT_PASSWORD");
#ifdef ASTRA_CTL_DEVELOPER
	/* developer builds only (ASTRA_DEVELOPER=ON; release builds do not
	 * compile it): a cheaper KDF for tests, never below the library's
	 * minimum for new slots */
	const char *kdf = getenv("ASTRA_KDF_LOG2N");
	if (create && kdf) {
		char *end;
		long l = strtol(kdf, &end, 10);
		if (!*kdf || *end || l < 10 || l > 20)
			return ctl_usage_error(
			        "ASTRA_KDF_LOG2N=%.20s: scrypt log2(N) must be "
			        "from 10 to 20 (developer builds only)",
			        kdf);
		o.kdf_log2n = (unsigned)l;
	}
#endif
	const char *level =
	        init_args ? ctl_flag_get(init_args, "compression-level") : NULL;
	if (level) {
		char *end;
		long l = strtol(level, &end, 10);
		if (*end || l < -7 || l > 19 || l == 0)
			return ctl_usage_error(
			        "--compression-level takes a zstd "
			        "level from -7 to 19 (not 0)");
		o.compression_level = (int)l;
	}
	const char *days =
	        init_args ? ctl_flag_get(init_args, "immutable-days") : NULL;
	const char *mode =
	        init_args ? ctl_flag_get(init_args, "lock-mode") : NULL;
	if (days) {
		char *end;
		long d = strtol(days, &end, 10);
		if (!*days || *end || d < 1 || d > 36500)
			return ctl_usage_error("--immutable-days takes a "
			                       "number of days from 1 to "
			                       "36500, not \"%s\"",
			        days);
		o.immutable_days = (unsigned)d;
	}
	if (mode) {
		if (!days)
			return ctl_usage_error(
			        "--lock-mode needs --immutable-days");
		if (!strcmp(mode, "compliance"))
			o.lock_mode = ASTRA_VAULT_LOCK_COMPLIANCE;
		else if (!strcmp(mode, "governance"))
			o.lock_mode = ASTRA_VAULT_LOCK_GOVERNANCE;
		else
			return ctl_usage_error("--lock-mode takes compliance "
			                       "or governance, not \"%s\"",
			        mode);
	}
	int rc = create ? astra_vault_init(out, url, &o)
	                : astra_vault_open(out, url, &o);
	if (rc < 0)
		return ctl_fail(rc, "vault %s", url);
	return 0;
}

/* ---- progress bar ---- */

typedef struct {
	int enabled;
	struct timespec start;
	int drawn;
} bar;

static double since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void human(char *out, size_t n, double bytes)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;
	while (bytes >= 1024 && i < 4) {
		bytes /= 1024;
		i++;
	}
	snprintf(out, n, "%.1f %s", bytes, u[i]);
}

static int progress_cb(const astra_progress *p, void *payload)
{
	bar *b = payload;
	if (!b->enabled)
		return 0;
	double el = since(&b->start);
	double rate = el > 0 ? (double)p->bytes_done / el : 0;
	char done[32], total[32], r[32], eta[32] = "";
	human(done, sizeof(done), (double)p->bytes_done);
	human(total, sizeof(total), (double)p->bytes_total);
	human(r, sizeof(r), rate);
	if (p->bytes_total && rate > 0 && p->bytes_done <= p->bytes_total) {
		double left = (double)(p->bytes_total - p->bytes_done) / rate;
		snprintf(eta, sizeof(eta), " ETA %02d:%02d", (int)left / 60,
		        (int)left % 60);
	}
	int pct = p->bytes_total ? (int)(100.0 * (double)p->bytes_done /
	                                   (double)p->bytes_total)
	                         : 0;
	if (pct > 100)
		pct = 100;
	fprintf(stderr, "\r%3d%% %s / %s  %s/s%s  %llu items   ", pct, done,
	        total, r, eta, (unsigned long long)p->items_done);
	b->drawn = 1;
	return 0;
}

static void bar_init(bar *b, const ctl_globals *g)
{
	b->enabled = g->progress > 0 && g->output == OUT_TABLE;
	b->drawn = 0;
	clock_gettime(CLOCK_MONOTONIC, &b->start);
}

static void bar_end(bar *b)
{
	if (b->drawn)
		fputs("\r\033[K", stderr);
}

/* Prints the library's JSON in the selected output format. */
static void emit_json_text(const ctl_globals *g, const char *json)
{
	out_val *v = out_parse_json(json);
	if (!v) {
		fputs(json, stdout);
		fputc('\n', stdout);
		return;
	}
	ctl_emit(g, v);
}

/* ---- vault ---- */

static const ctl_flag init_flags[] = {
	{ "compression-level", 1, 0 },
	{ "immutable-days", 1, 0 },
	{ "lock-mode", 1, 0 },
	{ NULL, 0, 0 },
};

static int run_init(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("vault init takes no arguments");
	astra_vault *v = NULL;
	char urlbuf[4096];
	int rc = open_vault(g, 1, &v, a);
	if (rc)
		return rc;
	astra_buf info = ASTRA_BUF_INIT;
	if (astra_vault_info(v, &info) < 0) {
		astra_vault_free(v);
		return ctl_fail(ASTRA_ERROR, "vault info");
	}
	if (g->output == OUT_JSON)
		emit_json_text(g, info.ptr);
	else
		printf("created vault %s\n",
		        vault_url(g, urlbuf, sizeof(urlbuf)));
	astra_buf_dispose(&info);
	astra_vault_free(v);
	return EXIT_OK;
}

static int run_info(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("vault info takes no arguments");
	astra_vault *v = NULL;
	int rc = open_vault(g, 0, &v, NULL);
	if (rc)
		return rc;
	astra_buf info = ASTRA_BUF_INIT;
	rc = astra_vault_info(v, &info);
	if (rc < 0)
		rc = ctl_fail(rc, "vault info");
	else {
		emit_json_text(g, info.ptr);
		rc = EXIT_OK;
	}
	astra_buf_dispose(&info);
	astra_vault_free(v);
	return rc;
}

static const ctl_flag check_flags[] = {
	{ "read-data", 0, 0 },
	{ NULL, 0, 0 },
};

static int run_check(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("vault check takes no arguments");
	astra_vault *v = NULL;
	int rc = open_vault(g, 0, &v, NULL);
	if (rc)
		return rc;
	astra_check_options o = ASTRA_CHECK_OPTIONS_INIT;
	bar b;
	bar_init(&b, g);
	astra_cancel *tok = ctl_new_cancel();
	o.cancel = tok;
	o.progress_cb = progress_cb;
	o.payload = &b;
	if (ctl_flag_set(a, "read-data"))
		o.flags |= ASTRA_CHECK_F_READ_DATA;
	astra_buf rep = ASTRA_BUF_INIT;
	rc = astra_vault_check(v, &o, &rep);
	bar_end(&b);
	if (rep.ptr)
		emit_json_text(g, rep.ptr);
	if (rc < 0)
		rc = ctl_fail(rc, "check found problems");
	astra_buf_dispose(&rep);
	astra_vault_free(v);
	astra_cancel_free(tok);
	return rc < 0 ? EXIT_FAILED : rc;
}

static const ctl_flag gc_flags[] = {
	{ "dry-run", 0, 0 },
	{ "grace", 1, 0 },
	{ NULL, 0, 0 },
};

static int run_gc(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("vault gc takes no arguments");
	astra_gc_options o = ASTRA_GC_OPTIONS_INIT;
	if (ctl_flag_set(a, "dry-run"))
		o.flags |= ASTRA_GC_F_DRY_RUN;
	const char *grace = ctl_flag_get(a, "grace");
	if (grace) {
		char *end;
		long long s = strtoll(grace, &end, 10);
		if (*end == 'm')
			s *= 60, end++;
		else if (*end == 'h')
			s *= 3600, end++;
		else if (*end == 's')
			end++;
		if (*end || s < 0)
			return ctl_usage_error("--grace takes a duration such "
			                       "as 3600, 90m or 1h");
		o.grace_seconds = s;
	}
	astra_vault *v = NULL;
	int rc = open_vault(g, 0, &v, NULL);
	if (rc)
		return rc;
	astra_buf rep = ASTRA_BUF_INIT;
	rc = astra_vault_gc(v, &o, &rep);
	if (rc < 0)
		rc = ctl_fail(rc, "gc");
	else {
		emit_json_text(g, rep.ptr);
		rc = EXIT_OK;
	}
	astra_buf_dispose(&rep);
	astra_vault_free(v);
	return rc;
}

static int run_repair(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("vault repair takes no arguments");
	astra_vault *v = NULL;
	int rc = open_vault(g, 0, &v, NULL);
	if (rc)
		return rc;
	astra_repair_options o = ASTRA_REPAIR_OPTIONS_INIT;
	bar b;
	bar_init(&b, g);
	astra_cancel *tok = ctl_new_cancel();
	o.cancel = tok;
	o.progress_cb = progress_cb;
	o.payload = &b;
	astra_buf rep = ASTRA_BUF_INIT;
	rc = astra_vault_repair(v, &o, &rep);
	bar_end(&b);
	if (rep.ptr && g->output == OUT_TABLE) {
		out_val *r = out_parse_json(rep.ptr);
		const out_val *d = out_get(r, "damaged_index_files");
		const out_val *u = out_get(r, "unreadable_packs");
		const out_val *m = out_get(r, "missing");
		printf("repair: %.0f blob(s) indexed from %.0f pack(s); %zu "
		       "damaged index file(s); %zu unreadable pack "
		       "header(s); %zu object(s) still missing\n",
		        out_num(out_get(r, "blobs_indexed")),
		        out_num(out_get(r, "packs")), out_len(d), out_len(u),
		        out_len(m));
		out_free(r);
	}
	if (rep.ptr)
		emit_json_text(g, rep.ptr);
	if (rc < 0)
		rc = ctl_fail(rc, "repair");
	astra_buf_dispose(&rep);
	astra_vault_free(v);
	astra_cancel_free(tok);
	return rc < 0 ? EXIT_FAILED : rc;
}

static const ctl_flag replicate_flags[] = {
	{ "to", 1, 0 },
	{ "dry-run", 0, 0 },
	{ "parallel", 1, 0 },
	{ NULL, 0, 0 },
};

static int run_replicate(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("vault replicate takes flags only");
	const char *to = ctl_flag_get(a, "to");
	if (!to || !*to)
		return ctl_usage_error("vault replicate needs --to URL");
	astra_replicate_options o = ASTRA_REPLICATE_OPTIONS_INIT;
	const char *par = ctl_flag_get(a, "parallel");
	if (par) {
		char *end = NULL;
		unsigned long n = strtoul(par, &end, 10);
		if (!*par || *end || n < 1 || n > 64)
			return ctl_usage_error("--parallel needs a number from "
			                       "1 to 64, not \"%s\"",
			        par);
		o.parallel = (unsigned)n;
	}
	if (ctl_flag_set(a, "dry-run"))
		o.flags |= ASTRA_REPLICATE_F_DRY_RUN;
	astra_vault *v = NULL;
	int rc = open_vault(g, 0, &v, NULL);
	if (rc)
		return rc;
	bar b;
	bar_init(&b, g);
	astra_cancel *tok = ctl_new_cancel();
	o.cancel = tok;
	o.progress_cb = progress_cb;
	o.payload = &b;
	astra_buf rep = ASTRA_BUF_INIT;
	rc = astra_vault_replicate(v, to, &o, &rep);
	bar_end(&b);
	if (rep.ptr && g->output == OUT_TABLE) {
		out_val *r = out_parse_json(rep.ptr);
		int dry = o.flags & ASTRA_REPLICATE_F_DRY_RUN;
		const out_val *c = out_get(r, dry ? "would_copy" : "copied");
		printf("replicate%s: %.0f pack(s), %.0f index file(s), %.0f "
		       "snapshot(s), %.0f app backup(s), %.0f key slot(s)%s; "
		       "%.0f byte(s); %.0f object(s) already there\n",
		        dry ? " (dry run, would copy)" : "",
		        out_num(out_get(c, "packs")),
		        out_num(out_get(c, "index_files")),
		        out_num(out_get(c, "snapshots")),
		        out_num(out_get(c, "app_backups")),
		        out_num(out_get(c, "key_slots")),
		        out_num(out_get(c, "config")) > 0 ? " and the config"
		                                          : "",
		        out_num(out_get(r, "bytes")),
		        out_num(out_get(r, "present")));
		out_free(r);
	} else if (rep.ptr) {
		emit_json_text(g, rep.ptr);
	}
	if (rc < 0)
		rc = ctl_fail(rc, "replicate to %s", to);
	astra_buf_dispose(&rep);
	astra_vault_free(v);
	astra_cancel_free(tok);
	return rc < 0 ? EXIT_FAILED : rc;
}

/* ---- data ---- */

static const ctl_flag backup_flags[] = {
	{ "tag", 1, 1 },
	{ "parent", 1, 0 },
	{ "no-parent", 0, 0 },
	{ "source", 1, 0 },
	{ "result-file", 1, 0 },
	{ NULL, 0, 0 },
};

/* --result-file: a compact JSON result, or {"error", "code"} on failure
 * (a mover Job's termination message; at most 4096 bytes are read). */
static void write_result(const ctl_args *a, const out_val *ok, int rc)
{
	const char *path = ctl_flag_get(a, "result-file");
	if (!path)
		return;
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "astractl: cannot write %s\n", path);
		return;
	}
	if (ok) {
		out_print(f, ok, OUT_JSON);
	} else {
		out_val *e = out_obj();
		char msg[3000];
		snprintf(msg, sizeof(msg), "%s", astra_error_last()->message);
		out_set_str(e, "error", msg);
		out_set_int(e, "code", rc);
		out_print(f, e, OUT_JSON);
		out_free(e);
	}
	fclose(f);
}

static int run_backup(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("data backup needs exactly one PATH");
	astra_data_backup_options o = ASTRA_DATA_BACKUP_OPTIONS_INIT;
	const ctl_flag_values *tags = ctl_flag_all(a, "tag");
	for (int i = 0; tags && i < tags->count; i++)
		if (!strchr(tags->values[i], '='))
			return ctl_usage_error("--tag takes KEY=VALUE, not "
			                       "\"%s\"",
			        tags->values[i]);
	o.tags = tags ? tags->values : NULL;
	o.ntags = tags ? (size_t)tags->count : 0;
	o.parent = ctl_flag_get(a, "parent");
	o.source = ctl_flag_get(a, "source");
	if (ctl_flag_set(a, "no-parent"))
		o.flags |= ASTRA_DATA_BACKUP_F_NO_PARENT;
	astra_vault *v = NULL;
	int rc = open_vault(g, 0, &v, NULL);
	if (rc) {
		write_result(a, NULL, astra_error_last()->code);
		return rc;
	}
	astra_cancel *tok = ctl_new_cancel();
	bar b;
	bar_init(&b, g);
	/* totals are only for the bar's percentage and ETA */
	if (!b.enabled)
		o.flags |= ASTRA_DATA_BACKUP_F_NO_SCAN;
	o.cancel = tok;
	o.progress_cb = progress_cb;
	o.payload = &b;
	astra_data_backup_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	rc = astra_vault_backup_path(v, a->pos[0], &o, &res);
	bar_end(&b);
	int exit_code = EXIT_OK;
	if (rc < 0 && rc != ASTRA_EPARTIAL) {
		write_result(a, NULL, rc);
		exit_code = ctl_fail(rc, "backup of %s failed", a->pos[0]);
	} else {
		if (rc == ASTRA_EPARTIAL)
			exit_code = ctl_fail(rc, "backup of %s", a->pos[0]);
		out_val *ov = out_obj();
		out_set_str(ov, "id", res.id);
		out_set_u64(ov, "files", res.files);
		out_set_u64(ov, "dirs", res.dirs);
		out_set_u64(ov, "files_unchanged", res.files_unchanged);
		out_set_u64(ov, "bytes_total", res.bytes_total);
		out_set_u64(ov, "bytes_read", res.bytes_read);
		out_set_u64(ov, "bytes_new", res.bytes_new);
		out_set_u64(ov, "bytes_stored", res.bytes_stored);
		out_set_u64(ov, "errors", res.errors);
		out_set_num(ov, "duration_s", res.duration_s);
		write_result(a, ov, 0);
		if (g->output == OUT_TABLE) {
			printf("%s\n", res.id);
			out_free(ov);
		} else {
			ctl_emit(g, ov);
		}
	}
	astra_vault_free(v);
	astra_cancel_free(tok);
	return exit_code;
}

static const ctl_flag restore_flags[] = {
	{ "path", 1, 0 },
	{ "no-owner", 0, 0 },
	{ "overwrite", 0, 0 },
	{ "devices", 0, 0 },
	{ "delete-extras", 0, 0 },
	{ "result-file", 1, 0 },
	{ NULL, 0, 0 },
};

static int run_restore(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 2)
		return ctl_usage_error("data restore needs ID and TARGET");
	astra_data_restore_options o = ASTRA_DATA_RESTORE_OPTIONS_INIT;
	o.subpath = ctl_flag_get(a, "path");
	if (ctl_flag_set(a, "no-owner"))
		o.flags |= ASTRA_DATA_RESTORE_F_NO_OWNER;
	if (ctl_flag_set(a, "overwrite"))
		o.flags |= ASTRA_DATA_RESTORE_F_OVERWRITE;
	if (ctl_flag_set(a, "devices"))
		o.flags |= ASTRA_DATA_RESTORE_F_DEVICES;
	if (ctl_flag_set(a, "delete-extras"))
		o.flags |= ASTRA_DATA_RESTORE_F_DELETE_EXTRAS;
	astra_vault *v = NULL;
	int rc = open_vault(g, 0, &v, NULL);
	if (rc) {
		write_result(a, NULL, astra_error_last()->code);
		return rc;
	}
	astra_cancel *tok = ctl_new_cancel();
	bar b;
	bar_init(&b, g);
	o.cancel = tok;
	o.progress_cb = progress_cb;
	o.payload = &b;
	astra_data_restore_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_RESTORE_RESULT_VERSION;
	astra_buf report = ASTRA_BUF_INIT;
	rc = astra_vault_restore_path(
	        v, a->pos[0], a->pos[1], &o, &res, &report);
	bar_end(&b);
	int exit_code = EXIT_OK;
	if (rc < 0 && rc != ASTRA_EPARTIAL) {
		write_result(a, NULL, rc);
		exit_code = ctl_fail(rc, "restore of %s failed", a->pos[0]);
	} else {
		out_val *ov = out_obj();
		out_set_u64(ov, "files", res.files);
		out_set_u64(ov, "dirs", res.dirs);
		out_set_u64(ov, "bytes", res.bytes);
		out_set_u64(ov, "errors", res.errors);
		out_set_num(ov, "duration_s", res.duration_s);
		if (rc == ASTRA_EPARTIAL)
			write_result(a, NULL, rc);
		else
			write_result(a, ov, 0);
		if (rc == ASTRA_EPARTIAL) {
			exit_code = ctl_fail(rc, "restore of %s", a->pos[0]);
			fprintf(stderr, "%s\n", report.ptr ? report.ptr : "");
		}
		ctl_emit(g, ov);
	}
	astra_buf_dispose(&report);
	astra_vault_free(v);
	astra_cancel_free(tok);
	return exit_code;
}

static void print_snapshot_table(const char *json);

static int run_list(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("data list takes no arguments");
	astra_vault *v = NULL;
	int rc = open_vault(g, 0, &v, NULL);
	if (rc)
		return rc;
	astra_buf list = ASTRA_BUF_INIT;
	rc = astra_vault_snapshots(v, &list);
	if (rc < 0) {
		rc = ctl_fail(rc, "listing snapshots");
	} else if (g->output != OUT_TABLE) {
		emit_json_text(g, list.ptr);
		rc = EXIT_OK;
	} else {
		print_snapshot_table(list.ptr);
		rc = EXIT_OK;
	}
	astra_buf_dispose(&list);
	astra_vault_free(v);
	return rc;
}

/* ID, TIME, HOST, FILES, SIZE, TAGS, SOURCE */
static void print_snapshot_table(const char *json)
{
	out_val *all = out_parse_json(json);
	out_val *rows = out_arr();
	for (size_t i = 0; all && i < out_len(all); i++) {
		const out_val *s = out_at(all, i);
		out_val *r = out_obj();
		char tags[512] = "", size[32] = "";
		const out_val *t = out_get(s, "tags");
		for (size_t k = 0; t && k < out_len(t); k++) {
			size_t n = strlen(tags);
			snprintf(tags + n, sizeof(tags) - n, "%s%s=%s",
			        k ? "," : "", out_key(out_at(t, k)),
			        out_str(out_at(t, k)));
		}
		const out_val *st = out_get(s, "stats");
		human(size, sizeof(size), out_num(out_get(st, "bytes")));
		out_set_str(r, "id", out_str(out_get(s, "id")));
		out_set_str(r, "time", out_str(out_get(s, "time")));
		out_set_str(r, "host", out_str(out_get(s, "host")));
		out_set_u64(
		        r, "files", (uint64_t)out_num(out_get(st, "files")));
		out_set_str(r, "size", size);
		out_set_str(r, "tags", tags[0] ? tags : "-");
		out_set_str(r, "source", out_str(out_get(s, "source")));
		out_push(rows, r);
	}
	out_print(stdout, rows, OUT_TABLE);
	out_free(rows);
	out_free(all);
}

static int run_forget(const ctl_globals *g, ctl_args *a)
{
	if (a->npos != 1)
		return ctl_usage_error("data forget needs an ID");
	astra_vault *v = NULL;
	int rc = open_vault(g, 0, &v, NULL);
	if (rc)
		return rc;
	rc = astra_vault_forget(v, a->pos[0]);
	if (rc < 0)
		rc = ctl_fail(rc, "forget %s", a->pos[0]);
	else
		rc = EXIT_OK;
	astra_vault_free(v);
	return rc;
}

static const ctl_flag chpw_flags[] = {
	{ "new-password-file", 1, 0 },
	{ "rekey", 0, 0 },
	{ NULL, 0, 0 },
};

static int run_change_password(const ctl_globals *g, ctl_args *a)
{
	if (a->npos)
		return ctl_usage_error("vault change-password takes no "
		                       "arguments");
	astra_vault_options n = ASTRA_VAULT_OPTIONS_INIT;
	const char *file = ctl_flag_get(a, "new-password-file");
	const char *env = getenv("ASTRA_VAULT_NEW_PASSWORD");
	if (file)
		n.password_file = file;
	else if (env && *env)
		n.password = env;
	else
		return ctl_usage_error("the new password is missing: use "
		                       "--new-password-file PATH or set "
		                       "$ASTRA_VAULT_NEW_PASSWORD");
	if (ctl_flag_set(a, "rekey"))
		n.flags |= ASTRA_VAULT_F_REKEY;
#ifdef ASTRA_CTL_DEVELOPER
	const char *kdf = getenv("ASTRA_KDF_LOG2N");
	if (kdf) {
		char *end;
		long l = strtol(kdf, &end, 10);
		if (!*kdf || *end || l < 10 || l > 20)
			return ctl_usage_error(
			        "ASTRA_KDF_LOG2N=%.20s: scrypt log2(N) must be "
			        "from 10 to 20 (developer builds only)",
			        kdf);
		n.kdf_log2n = (unsigned)l;
	}
#endif
	astra_vault *v = NULL;
	int rc = open_vault(g, 0, &v, NULL);
	if (rc)
		return rc;
	rc = astra_vault_change_password(v, &n);
	astra_vault_free(v);
	if (rc < 0)
		return ctl_fail(rc, "change-password%s",
		        (n.flags & ASTRA_VAULT_F_REKEY) ? " --rekey" : "");
	printf("%s\n", (n.flags & ASTRA_VAULT_F_REKEY)
	                       ? "password changed; new key epoch"
	                       : "password changed");
	return EXIT_OK;
}

const ctl_command ctl_cmd_vault_init = { "vault", "init",
	"vault init [--compression-level N] [--immutable-days N [--lock-mode "
	"compliance|governance]]",
	"create a vault", init_flags, run_init };
const ctl_command ctl_cmd_vault_info = { "vault", "info", "vault info",
	"describe the vault", NULL, run_info };
const ctl_command ctl_cmd_vault_check = { "vault", "check",
	"vault check [--read-data]", "verify the vault", check_flags,
	run_check };
const ctl_command ctl_cmd_vault_gc = { "vault", "gc",
	"vault gc [--dry-run] [--grace DURATION]",
	"remove data no snapshot needs", gc_flags, run_gc };
const ctl_command ctl_cmd_vault_replicate = { "vault", "replicate",
	"vault replicate --to URL [--dry-run] [--parallel N]",
	"copy what a replica lacks of the vault (same keys)", replicate_flags,
	run_replicate };

const ctl_command ctl_cmd_vault_repair = { "vault", "repair", "vault repair",
	"index the blobs of every pack again (after damaged index files)", NULL,
	run_repair };
const ctl_command ctl_cmd_vault_change_password = { "vault", "change-password",
	"vault change-password [--new-password-file PATH] [--rekey]",
	"replace the vault's password; --rekey: also a new key epoch",
	chpw_flags, run_change_password };
const ctl_command ctl_cmd_data_backup = { "data", "backup",
	"data backup PATH [--tag KEY=VALUE]... [--parent ID | --no-parent] "
	"[--source NAME] [--result-file PATH]",
	"back up a directory, file or block device", backup_flags, run_backup };
const ctl_command ctl_cmd_data_restore = { "data", "restore",
	"data restore ID TARGET [--path SUBPATH] [--no-owner] [--overwrite] "
	"[--devices] [--result-file PATH]",
	"restore a data snapshot", restore_flags, run_restore };
const ctl_command ctl_cmd_data_list = { "data", "list", "data list",
	"list data snapshots", NULL, run_list };
const ctl_command ctl_cmd_data_forget = { "data", "forget", "data forget ID",
	"forget a data snapshot", NULL, run_forget };

int ctl_open_vault(const ctl_globals *g, astra_vault **out)
{
	return open_vault(g, 0, out, NULL);
}
