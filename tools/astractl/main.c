/*
 * astractl: the command-line face of libastra. A thin shell over the
 * public C API: it parses flags, calls the library and prints results.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "ctl.h"

static const ctl_command *current;

const char *ctl_flag_get(const ctl_args *a, const char *name)
{
	for (size_t i = 0; i < a->nspec; i++)
		if (strcmp(a->spec[i].name, name) == 0 && a->vals[i].count)
			return a->vals[i].values[a->vals[i].count - 1];
	return NULL;
}

const ctl_flag_values *ctl_flag_all(const ctl_args *a, const char *name)
{
	for (size_t i = 0; i < a->nspec; i++)
		if (strcmp(a->spec[i].name, name) == 0)
			return &a->vals[i];
	return NULL;
}

int ctl_flag_set(const ctl_args *a, const char *name)
{
	const ctl_flag_values *v = ctl_flag_all(a, name);
	return v && v->count > 0;
}

int ctl_fail(int rc, const char *fmt, ...)
{
	va_list ap;
	fputs("astractl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	const astra_error *e = astra_error_last();
	if (e->code != ASTRA_OK)
		fprintf(stderr, ": %s\n", e->message);
	else
		fprintf(stderr, ": %s\n", astra_strerror(rc));
	return rc == ASTRA_EPARTIAL ? EXIT_PARTIAL : EXIT_FAILED;
}

static void print_usage(FILE *f)
{
	fputs("usage: astractl [global flags] <command> [flags]\n\n"
	      "Commands:\n",
	        f);
	for (const ctl_command *const *c = ctl_commands; *c; c++) {
		char name[64];
		if ((*c)->noun)
			snprintf(name, sizeof(name), "%s %s", (*c)->noun,
			        (*c)->verb);
		else
			snprintf(name, sizeof(name), "%s", (*c)->verb);
		fprintf(f, "  %-18s %s\n", name, (*c)->summary);
	}
	fputs("\nGlobal flags:\n"
	      "  --kubeconfig PATH      kubeconfig file(s)\n"
	      "  --context NAME         kubeconfig context\n"
	      "  --vault URL            vault URL (default $ASTRA_VAULT)\n"
	      "  --password-file PATH   vault password or key file "
	      "(default $ASTRA_VAULT_PASSWORD)\n"
	      "  --control-namespace NS the protector's control namespace "
	      "(default $ASTRA_CONTROL_NAMESPACE, else astra-system)\n"
	      "  -o, --output FORMAT    table, json or yaml\n"
	      "  --no-progress          no progress bars\n"
	      "  -v, -q                 more / less logging\n",
	        f);
}

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("astractl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (current)
		fprintf(stderr, "usage: astractl %s\n", current->usage);
	else
		print_usage(stderr);
	return EXIT_USAGE;
}

void ctl_emit(const ctl_globals *g, out_val *v)
{
	out_print(stdout, v, g->output);
	out_free(v);
}

int ctl_emit_list(const ctl_globals *g, const char *json, ctl_row_fn row)
{
	out_val *all = out_parse_json(json);
	if (g->output != OUT_TABLE || !row) {
		ctl_emit(g, all);
		return EXIT_OK;
	}
	out_val *rows = out_arr();
	for (size_t i = 0; i < out_len(all); i++)
		out_push(rows, row(out_at(all, i)));
	ctl_emit(g, rows);
	out_free(all);
	return EXIT_OK;
}

static void log_to_stderr(int level, const char *msg, void *payload)
{
	static const char *names[] = { "", "error", "warning", "info", "debug",
		"trace" };
	(void)payload;
	fprintf(stderr, "astractl: %s: %s\n",
	        names[level > 0 && level < 6 ? level : 0], msg);
}

/* Splits "--name=value"; returns the name length. */
static size_t flag_name_len(const char *arg)
{
	const char *eq = strchr(arg, '=');
	return eq ? (size_t)(eq - arg) : strlen(arg);
}

static int match_long(
        const char *arg, const char *name, const char **inline_val)
{
	size_t n = flag_name_len(arg + 2);
	if (strncmp(arg + 2, name, n) != 0 || name[n] != '\0')
		return 0;
	*inline_val = arg[2 + n] == '=' ? arg + 3 + n : NULL;
	return 1;
}

/* Global flags may stand anywhere; the rest is left in `rest`. */
static int parse_globals(
        int argc, char **argv, ctl_globals *g, char **rest, int *nrest)
{
	static const char *const valued[] = { "kubeconfig", "context", "vault",
		"password-file", "output", "control-namespace" };
	*nrest = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = NULL;
		int which = -1;
		if (strcmp(arg, "--") == 0) {
			while (++i < argc)
				rest[(*nrest)++] = argv[i];
			break;
		}
		if (strcmp(arg, "-o") == 0) {
			which = 4;
		} else if (strncmp(arg, "-o", 2) == 0 && arg[2]) {
			which = 4;
			val = arg + 2;
		} else if (strncmp(arg, "--", 2) == 0) {
			for (int k = 0; k < 6; k++)
				if (match_long(arg, valued[k], &val)) {
					which = k;
					break;
				}
			if (which < 0) {
				if (strcmp(arg, "--no-progress") == 0) {
					g->progress = 0;
					continue;
				}
				if (strcmp(arg, "--verbose") == 0) {
					g->verbosity++;
					continue;
				}
				if (strcmp(arg, "--quiet") == 0) {
					g->verbosity--;
					continue;
				}
				if (strcmp(arg, "--password") == 0 ||
				        strncmp(arg, "--password=", 11) == 0)
					return ctl_usage_error(
					        "passwords are never accepted "
					        "as flag values: use "
					        "--password-file or "
					        "$ASTRA_VAULT_PASSWORD");
			}
		} else if (arg[0] == '-' && arg[1] &&
		           strspn(arg + 1, "v") == strlen(arg + 1)) {
			g->verbosity += (int)strlen(arg + 1);
			continue;
		} else if (strcmp(arg, "-q") == 0) {
			g->verbosity--;
			continue;
		}
		if (which < 0) {
			rest[(*nrest)++] = argv[i];
			continue;
		}
		if (!val) {
			if (i + 1 >= argc)
				return ctl_usage_error(
				        "flag %s needs a value", arg);
			val = argv[++i];
		}
		switch (which) {
		case 0:
			g->kubeconfig = val;
			break;
		case 1:
			g->context = val;
			break;
		case 2:
			g->vault = val;
			break;
		case 3:
			g->password_file = val;
			break;
		case 5:
			g->control_namespace = val;
			break;
		case 4:
			if (strcmp(val, "json") == 0)
				g->output = OUT_JSON;
			else if (strcmp(val, "yaml") == 0)
				g->output = OUT_YAML;
			else if (strcmp(val, "table") == 0)
				g->output = OUT_TABLE;
			else
				return ctl_usage_error("unknown output format "
				                       "\"%s\" (table, json, "
				                       "yaml)",
				        val);
			break;
		}
	}
	return 0;
}

static int parse_command_flags(
        const ctl_command *cmd, int argc, char **argv, ctl_args *a)
{
	size_t nspec = 0;
	if (cmd->flags)
		while (cmd->flags[nspec].name)
			nspec++;
	a->spec = cmd->flags;
	a->nspec = nspec;
	a->vals = calloc(nspec ? nspec : 1, sizeof(ctl_flag_values));
	if (!a->vals)
		return ctl_usage_error("out of memory");
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0) {
			a->help = 1;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			if (a->npos >= CTL_MAX_VALUES)
				return ctl_usage_error("too many arguments");
			a->pos[a->npos++] = arg;
			continue;
		}
		size_t k;
		const char *val = NULL;
		for (k = 0; k < nspec; k++)
			if (match_long(arg, cmd->flags[k].name, &val))
				break;
		if (k == nspec)
			return ctl_usage_error("unknown flag %.*s",
			        (int)(flag_name_len(arg)), arg);
		if (cmd->flags[k].takes_value) {
			if (!val) {
				if (i + 1 >= argc)
					return ctl_usage_error(
					        "flag --%s needs a value",
					        cmd->flags[k].name);
				val = argv[++i];
			}
		} else {
			if (val)
				return ctl_usage_error(
				        "flag --%s takes no value",
				        cmd->flags[k].name);
			val = "";
		}
		ctl_flag_values *fv = &a->vals[k];
		if (fv->count && !cmd->flags[k].repeatable)
			return ctl_usage_error(
			        "flag --%s given twice", cmd->flags[k].name);
		if (fv->count >= CTL_MAX_VALUES)
			return ctl_usage_error("flag --%s given too often",
			        cmd->flags[k].name);
		fv->values[fv->count++] = val;
	}
	return 0;
}

int main(int argc, char **argv)
{
	ctl_globals g = { 0 };
	g.progress = -1;
	char **rest = calloc((size_t)argc + 1, sizeof(char *));
	int nrest = 0;
	if (!rest) {
		fputs("astractl: out of memory\n", stderr);
		return EXIT_FAILED;
	}
	g.control_namespace = getenv("ASTRA_CONTROL_NAMESPACE");
	int rc = parse_globals(argc, argv, &g, rest, &nrest);
	if (rc) {
		free(rest);
		return rc;
	}
	if (nrest == 0) {
		print_usage(stderr);
		free(rest);
		return EXIT_USAGE;
	}
	if (strcmp(rest[0], "help") == 0 || strcmp(rest[0], "--help") == 0 ||
	        strcmp(rest[0], "-h") == 0) {
		print_usage(stdout);
		free(rest);
		return EXIT_OK;
	}

	const ctl_command *cmd = NULL;
	int used = 0;
	for (const ctl_command *const *c = ctl_commands; *c && !cmd; c++) {
		if (!(*c)->noun && strcmp((*c)->verb, rest[0]) == 0) {
			cmd = *c;
			used = 1;
		} else if ((*c)->noun && strcmp((*c)->noun, rest[0]) == 0 &&
		           nrest > 1 && strcmp((*c)->verb, rest[1]) == 0) {
			cmd = *c;
			used = 2;
		}
	}
	if (!cmd) {
		int known_noun = 0;
		for (const ctl_command *const *c = ctl_commands; *c; c++)
			if ((*c)->noun && strcmp((*c)->noun, rest[0]) == 0)
				known_noun = 1;
		if (known_noun)
			rc = ctl_usage_error("unknown command \"%s %s\"",
			        rest[0], nrest > 1 ? rest[1] : "");
		else
			rc = ctl_usage_error("unknown command \"%s\"", rest[0]);
		free(rest);
		return rc;
	}
	current = cmd;

	ctl_args a = { 0 };
	rc = parse_command_flags(cmd, nrest - used, rest + used, &a);
	if (rc == 0 && a.help) {
		printf("usage: astractl %s\n", cmd->usage);
		rc = -1;
	}
	if (rc == 0) {
		if (g.progress < 0)
			g.progress = isatty(STDERR_FILENO);
		int lvl = ASTRA_LOG_WARN + g.verbosity;
		if (lvl > ASTRA_LOG_NONE)
			astra_log_set_handler(log_to_stderr,
			        lvl > ASTRA_LOG_TRACE ? ASTRA_LOG_TRACE : lvl,
			        NULL);
		if (astra_init() < 0) {
			rc = ctl_fail(ASTRA_ERROR, "cannot initialise");
		} else {
			rc = cmd->run(&g, &a);
			astra_shutdown();
		}
	} else if (rc < 0) {
		rc = EXIT_OK;
	}
	free(a.vals);
	free(rest);
	return rc;
}
