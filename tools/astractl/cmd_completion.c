/*
 * astractl completion bash|zsh|fish and astractl man DIR: shell completion
 * scripts and man pages written from the same command table that drives
 * --help (commands.c), so they cannot drift from the commands.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "ctl.h"

/* Nouns in table order, each once. */
static size_t nouns(const char **out, size_t cap)
{
	size_t n = 0;
	for (const ctl_command *const *c = ctl_commands; *c; c++) {
		if (!(*c)->noun)
			continue;
		size_t k = 0;
		while (k < n && strcmp(out[k], (*c)->noun))
			k++;
		if (k == n && n < cap)
			out[n++] = (*c)->noun;
	}
	return n;
}

static void flag_words(FILE *f, const ctl_command *c)
{
	for (const ctl_flag *fl = c->flags; fl && fl->name; fl++)
		fprintf(f, " --%s", fl->name);
	fputs(" --help", f);
}

static void bash_script(FILE *f)
{
	const char *ns[64];
	size_t nn = nouns(ns, 64);
	fputs("# bash completion for astractl (and kubectl-astra): "
	      "astractl completion bash\n"
	      "_astractl_flags() {\n\tcase \"$1\" in\n",
	        f);
	for (const ctl_command *const *c = ctl_commands; *c; c++) {
		fprintf(f, "\t\"%s%s%s\") echo \"",
		        (*c)->noun ? (*c)->noun : "", (*c)->noun ? " " : "",
		        (*c)->verb);
		flag_words(f, *c);
		fputs("\" ;;\n", f);
	}
	fputs("\tesac\n}\n_astractl_verbs() {\n\tcase \"$1\" in\n", f);
	for (size_t i = 0; i < nn; i++) {
		fprintf(f, "\t%s) echo \"", ns[i]);
		for (const ctl_command *const *c = ctl_commands; *c; c++)
			if ((*c)->noun && !strcmp((*c)->noun, ns[i]))
				fprintf(f, " %s", (*c)->verb);
		fputs("\" ;;\n", f);
	}
	fputs("\tesac\n}\n_astractl() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} "
	      "prev=${COMP_WORDS[COMP_CWORD-1]} w i skip=0 cmd verbs\n"
	      "\tlocal -a pos=()\n"
	      "\tlocal globals=\"--kubeconfig --context --vault "
	      "--password-file --output --no-progress --verbose --quiet\"\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tw=${COMP_WORDS[i]}\n"
	      "\t\tif ((skip)); then skip=0; continue; fi\n"
	      "\t\tcase \"$w\" in\n"
	      "\t\t--kubeconfig|--context|--vault|--password-file|-o|"
	      "--output) skip=1 ;;\n"
	      "\t\t-*) ;;\n"
	      "\t\t*) pos+=(\"$w\") ;;\n"
	      "\t\tesac\n\tdone\n"
	      "\tcase \"$prev\" in\n"
	      "\t-o|--output) COMPREPLY=($(compgen -W \"table json yaml\" "
	      "-- \"$cur\")); return ;;\n"
	      "\t--kubeconfig|--password-file) COMPREPLY=($(compgen -f -- "
	      "\"$cur\")); return ;;\n"
	      "\tesac\n"
	      "\tif ((${#pos[@]} == 0)); then\n"
	      "\t\tif [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "
	      "\"$globals\" -- \"$cur\")); else\n"
	      "\t\tCOMPREPLY=($(compgen -W \"",
	        f);
	for (size_t i = 0; i < nn; i++)
		fprintf(f, "%s%s", i ? " " : "", ns[i]);
	for (const ctl_command *const *c = ctl_commands; *c; c++)
		if (!(*c)->noun)
			fprintf(f, " %s", (*c)->verb);
	fputs(" help\" -- \"$cur\")); fi\n\t\treturn\n\tfi\n"
	      "\tverbs=$(_astractl_verbs \"${pos[0]}\")\n"
	      "\tif [[ -n $verbs ]]; then\n"
	      "\t\tif ((${#pos[@]} == 1)); then COMPREPLY=($(compgen -W "
	      "\"$verbs\" -- \"$cur\")); return; fi\n"
	      "\t\tcmd=\"${pos[0]} ${pos[1]}\"\n"
	      "\telse\n\t\tcmd=${pos[0]}\n\tfi\n"
	      "\tif [[ $cur == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$(_astractl_flags \"$cmd\") "
	      "$globals\" -- \"$cur\"))\n"
	      "\telse\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\tfi\n"
	      "}\ncomplete -F _astractl astractl kubectl-astra\n",
	        f);
}

static void fish_script(FILE *f)
{
	const char *ns[64];
	size_t nn = nouns(ns, 64);
	fputs("# fish completion for astractl: astractl completion fish\n"
	      "complete -c astractl -f\n"
	      "complete -c astractl -l kubeconfig -r -F -d 'kubeconfig "
	      "file(s)'\n"
	      "complete -c astractl -l context -r -d 'kubeconfig context'\n"
	      "complete -c astractl -l vault -r -d 'vault URL'\n"
	      "complete -c astractl -l password-file -r -F -d 'vault "
	      "password file'\n"
	      "complete -c astractl -s o -l output -r -a 'table json yaml'\n"
	      "complete -c astractl -l no-progress\n"
	      "complete -c astractl -s v -l verbose\n"
	      "complete -c astractl -s q -l quiet\n",
	        f);
	for (size_t i = 0; i < nn; i++)
		fprintf(f,
		        "complete -c astractl -n __fish_use_subcommand -a %s\n",
		        ns[i]);
	for (const ctl_command *const *c = ctl_commands; *c; c++) {
		const ctl_command *k = *c;
		if (!k->noun) {
			fprintf(f,
			        "complete -c astractl -n __fish_use_subcommand "
			        "-a %s -d '%s'\n",
			        k->verb, k->summary);
			for (const ctl_flag *fl = k->flags; fl && fl->name;
			        fl++)
				fprintf(f,
				        "complete -c astractl -n "
				        "'__fish_seen_subcommand_from %s' -l "
				        "%s%s\n",
				        k->verb, fl->name,
				        fl->takes_value ? " -r" : "");
			continue;
		}
		fprintf(f,
		        "complete -c astractl -n '__fish_seen_subcommand_from "
		        "%s; and not __fish_seen_subcommand_from",
		        k->noun);
		for (const ctl_command *const *d = ctl_commands; *d; d++)
			if ((*d)->noun && !strcmp((*d)->noun, k->noun))
				fprintf(f, " %s", (*d)->verb);
		fprintf(f, "' -a %s -d '%s'\n", k->verb, k->summary);
		for (const ctl_flag *fl = k->flags; fl && fl->name; fl++)
			fprintf(f,
			        "complete -c astractl -n "
			        "'__fish_seen_subcommand_from %s; and "
			        "__fish_seen_subcommand_from %s' -l %s%s\n",
			        k->noun, k->verb, fl->name,
			        fl->takes_value ? " -r" : "");
	}
}

static int run_completion(const ctl_globals *g, ctl_args *a)
{
	(void)g;
	if (a->npos != 1)
		return ctl_usage_error("completion needs a shell: bash, zsh "
		                       "or fish");
	const char *sh = a->pos[0];
	if (!strcmp(sh, "bash")) {
		bash_script(stdout);
	} else if (!strcmp(sh, "zsh")) {
		/* zsh runs bash completion functions through bashcompinit */
		fputs("#compdef astractl kubectl-astra\n"
		      "autoload -U +X bashcompinit && bashcompinit\n",
		        stdout);
		bash_script(stdout);
	} else if (!strcmp(sh, "fish")) {
		fish_script(stdout);
	} else {
		return ctl_usage_error("unknown shell \"%s\" (bash, zsh, "
		                       "fish)",
		        sh);
	}
	return fflush(stdout) ? EXIT_FAILED : EXIT_OK;
}

const ctl_command ctl_cmd_completion = { NULL, "completion",
	"completion bash|zsh|fish", "print a shell completion script", NULL,
	run_completion };

/* roff text: backslashes and hyphens escaped, no line starting with a
 * control character. */
static void roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

static const char *const global_flags[][2] = {
	{ "\\-\\-kubeconfig PATH", "kubeconfig file(s) ($KUBECONFIG)" },
	{ "\\-\\-context NAME", "kubeconfig context" },
	{ "\\-\\-vault URL", "vault URL (default $ASTRA_VAULT)" },
	{ "\\-\\-password\\-file PATH",
	        "vault password or key file (default $ASTRA_VAULT_PASSWORD)" },
	{ "\\-o, \\-\\-output FORMAT", "table, json or yaml" },
	{ "\\-\\-no\\-progress", "no progress bars" },
	{ "\\-v, \\-q", "more / less logging" },
};

static void man_head(FILE *f, const char *name, const char *what)
{
	fputs(".TH ", f);
	for (const char *p = name; *p; p++)
		fputc(*p >= 'a' && *p <= 'z' ? *p - 32 : *p, f);
	fprintf(f, " 1 \"\" \"libastra %s\" \"libastra manual\"\n.SH NAME\n",
	        astra_version_string());
	roff(f, name);
	fputs(" \\- ", f);
	roff(f, what);
	fputc('\n', f);
}

static void man_command(FILE *f, const ctl_command *c)
{
	fputs(".TP\n.B astractl ", f);
	roff(f, c->usage);
	fputc('\n', f);
	roff(f, c->summary);
	fputs(".\n", f);
	if (!c->flags || !c->flags->name)
		return;
	fputs("Flags:", f);
	for (const ctl_flag *fl = c->flags; fl->name; fl++) {
		fputs(fl == c->flags ? " " : ", ", f);
		fputs("\\fB\\-\\-", f);
		roff(f, fl->name);
		fputs("\\fR", f);
		if (fl->takes_value)
			fputs(" \\fIVALUE\\fR", f);
		if (fl->repeatable)
			fputs(" (repeatable)", f);
	}
	fputs(".\n", f);
}

static int write_page(const char *dir, const char *noun)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/astractl%s%s.1", dir, noun ? "-" : "",
	        noun ? noun : "");
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "astractl: %s: %s\n", path, strerror(errno));
		return EXIT_FAILED;
	}
	if (!noun) {
		man_head(f, "astractl",
		        "protect stateful Kubernetes applications with libastra");
		fputs(".SH SYNOPSIS\n.B astractl\n[\\fIglobal flags\\fR] "
		      "\\fIcommand\\fR [\\fIflags\\fR]\n"
		      ".SH DESCRIPTION\n"
		      "astractl discovers an application (namespaces, a label "
		      "selector or a Helm release), snapshots it, backs it up "
		      "into an encrypted, deduplicated vault and restores or "
		      "clones it. It is a thin shell over the libastra C "
		      "library. The same program installed as "
		      "\\fBkubectl\\-astra\\fR runs as \\fBkubectl astra\\fR.\n"
		      ".SH GLOBAL FLAGS\n",
		        f);
		for (size_t i = 0;
		        i < sizeof(global_flags) / sizeof(global_flags[0]);
		        i++) {
			fprintf(f, ".TP\n.B %s\n", global_flags[i][0]);
			roff(f, global_flags[i][1]);
			fputc('\n', f);
		}
		fputs(".SH COMMANDS\n", f);
		for (const ctl_command *const *c = ctl_commands; *c; c++)
			if (!(*c)->noun)
				man_command(f, *c);
		const char *ns[64];
		size_t nn = nouns(ns, 64);
		fputs(".PP\nCommand groups, each with its own page:", f);
		for (size_t i = 0; i < nn; i++)
			fprintf(f, "%s\n.BR astractl\\-%s (1)", i ? "," : "",
			        ns[i]);
		fputs(".\n.SH EXIT STATUS\n"
		      "0 success, 1 failure, 2 usage error, 3 partial success "
		      "(some objects or volumes failed, the rest is done).\n"
		      ".SH ENVIRONMENT\n"
		      ".B ASTRA_VAULT\n, \n.B ASTRA_VAULT_PASSWORD\n, \n"
		      ".B KUBECONFIG\n.SH SEE ALSO\n"
		      "docs/cli.md and docs/user\\-guide.md of libastra.\n",
		        f);
	} else {
		char title[128], what[160];
		snprintf(title, sizeof(title), "astractl-%s", noun);
		snprintf(what, sizeof(what), "astractl %s commands", noun);
		man_head(f, title, what);
		fputs(".SH SYNOPSIS\n.B astractl\n[\\fIglobal flags\\fR] ", f);
		roff(f, noun);
		fputs(" \\fIverb\\fR [\\fIflags\\fR]\n.SH COMMANDS\n", f);
		for (const ctl_command *const *c = ctl_commands; *c; c++)
			if ((*c)->noun && !strcmp((*c)->noun, noun))
				man_command(f, *c);
		fputs(".SH SEE ALSO\n.BR astractl (1)\n", f);
	}
	if (fclose(f)) {
		fprintf(stderr, "astractl: %s: %s\n", path, strerror(errno));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static int run_man(const ctl_globals *g, ctl_args *a)
{
	(void)g;
	if (a->npos != 1)
		return ctl_usage_error("man needs the directory to write the "
		                       "pages into");
	const char *dir = a->pos[0];
	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "astractl: %s: not a directory\n", dir);
		return EXIT_FAILED;
	}
	int rc = write_page(dir, NULL);
	const char *ns[64];
	size_t nn = nouns(ns, 64);
	for (size_t i = 0; i < nn && rc == EXIT_OK; i++)
		rc = write_page(dir, ns[i]);
	return rc;
}

const ctl_command ctl_cmd_man = { NULL, "man", "man DIR",
	"write the man pages astractl(1) and astractl-GROUP(1) into DIR", NULL,
	run_man };
