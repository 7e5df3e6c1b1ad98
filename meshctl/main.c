/* main.c - meshctl: dispatch to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "meshctl.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "validate", cmd_validate, "check configuration files against the resource schemas" },
	{ "analyze", cmd_analyze, "check a configuration as a whole for likely mistakes" },
	{ "route", cmd_route, "show which rule a request matches and what it does" },
	{ "apply", cmd_apply, "validate files with a watched config dir, then put them there" },
	{ "mtls", cmd_mtls, "show the inbound mTLS mode of a workload and what sets it" },
	{ "ca", cmd_ca, "certificate authority: create a CA, issue and inspect SVIDs" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: meshctl COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "  %-10s %s\n", "version", "print the libmesh version");
	fprintf(out, "\nRun 'meshctl COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("meshctl (libmesh) %s\n", mesh_version());
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "meshctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
