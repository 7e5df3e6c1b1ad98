/* meshctl.h - subcommands and the helpers they share. */
#ifndef MESHCTL_H
#define MESHCTL_H

#include <stdbool.h>
#include <stdio.h>

#include <mesh/mesh.h>

/* Exit codes shared by every subcommand. */
enum { EXIT_VALID = 0, EXIT_INVALID = 1, EXIT_USAGE = 2 };

enum output_format { OUTPUT_TEXT, OUTPUT_JSON };

/* Options common to the commands that read configuration. */
struct load_opts {
	unsigned flags; /* MESH_CONFIG_* */
	const char *ns;
	enum output_format output;
	bool quiet; /* hide notes */
};

/* Parse a common option at argv[*i]; returns 1 if consumed, 0 if not one,
 * -1 on a usage error (message printed). */
int parse_load_opt(int argc, char **argv, int *i, struct load_opts *o);
/* Load each path into *cfg. Returns the worst mesh error code. */
int load_paths(struct load_opts *o, char **paths, int npaths, mesh_config **cfg, mesh_diag *diag);
/* Print diagnostics as text (stdout) or the JSON document; @summary_label
 * names the check ("valid", "no findings"). */
void print_report(const struct load_opts *o, const mesh_config *cfg, const mesh_diag *diag,
                  const char *command);

/* Most labels a --source / --labels option takes. */
#define MAX_LABELS 32
/* Split "k=v,k2=v2" (in place) into @kv: "k", "v", ..., NULL, at most @max
 * entries with the NULL. Returns 0, or -1 when malformed or too many. */
int parse_labels(char *spec, const char **kv, size_t max);
/* Print @s as a JSON string literal. */
void print_json_str(FILE *out, const char *s);

int cmd_validate(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_ca(int argc, char **argv);
int cmd_mtls(int argc, char **argv);
int cmd_apply(int argc, char **argv);

#endif
