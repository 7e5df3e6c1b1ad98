/* apply.c - meshctl apply: check files together with the configuration
 * directory they go into, then put them there whole (a hidden temporary
 * name, then rename), so that a proxy watching the directory only ever
 * reads complete files, and an invalid change never reaches it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meshctl.h"

#define APPLY_MAX_BYTES (64L * 1024 * 1024) /* the config loader's own limit */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: meshctl apply --dir DIR [OPTIONS] FILE...\n\n"
	        "Validate FILEs together with the configuration already in DIR (a file of DIR\n"
	        "with the same name as one of FILEs is replaced, so it is left out), then write\n"
	        "each FILE into DIR under its own name, whole: a proxy watching DIR (meshproxy\n"
	        "--config DIR) reloads it. Nothing is written when anything is invalid.\n\n"
	        "  --dir DIR               the watched configuration directory (required)\n"
	        "  --dry-run               check only, write nothing\n"
	        "  --strict                non-mesh and unknown kinds are errors, not notes\n"
	        "  --allow-unknown-fields  unknown fields are warnings, not errors\n"
	        "  -n, --namespace NS      namespace of resources that name none (default)\n"
	        "  -o, --output FORMAT     text (default) or json\n"
	        "  -q, --quiet             hide notes\n\n"
	        "Exit status: 0 applied (or would be, with --dry-run), 1 invalid (nothing\n"
	        "written), 2 usage or I/O error.\n");
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static bool config_name(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml")) ||
	       (l > 5 && !strcmp(n + l - 5, ".json"));
}

/* Load DIR's files, as the proxy does (hidden names skipped, subdirectories
 * followed), except DIR/NAME for every NAME among @files. */
static int load_dir_except(mesh_config *cfg, const char *dir, bool top, char **files, int nfiles,
                           mesh_diag *diag, int depth)
{
	if (depth > 16)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT && top ? 0 : MESH_EIO;
	int worst = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		bool replaced = false;
		for (int i = 0; top && i < nfiles; i++)
			replaced |= !strcmp(base_name(files[i]), e->d_name);
		if (replaced)
			continue;
		size_t n = strlen(dir) + strlen(e->d_name) + 2;
		char *full = malloc(n);
		if (!full) {
			worst = MESH_ENOMEM;
			break;
		}
		snprintf(full, n, "%s/%s", dir, e->d_name);
		struct stat st;
		int r = 0;
		if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
			r = load_dir_except(cfg, full, false, files, nfiles, diag, depth + 1);
		else if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && config_name(full))
			r = mesh_config_load_file(cfg, full, diag);
		free(full);
		if (r && (worst == 0 || r == MESH_EIO || r == MESH_ENOMEM))
			worst = r;
	}
	closedir(d);
	return worst;
}

/* Copy @src to DIR/basename through a hidden temporary file, synced. */
static int put_file(const char *dir, const char *src)
{
	int rc = -1, in = -1, out = -1;
	char tmp[4096], dst[4096];
	const char *name = base_name(src);
	if (!dir || !name)
		return -1;
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.apply-%ld", dir, name, (long)getpid());
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "meshctl apply: %s: %s\n", src, strerror(errno));
		goto out;
	}
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "meshctl apply: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	char buf[65536];
	ssize_t r;
	while ((r = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(out, buf + off, (size_t)(r - off));
			if (w < 0) {
				fprintf(stderr, "meshctl apply: %s: %s\n", tmp, strerror(errno));
				goto out;
			}
			off += w;
		}
	if (r < 0 || fsync(out) != 0) {
		fprintf(stderr, "meshctl apply: %s: %s\n", r < 0 ? src : tmp, strerror(errno));
		goto out;
	}
	close(out);
	out = -1;
	if (rename(tmp, dst) != 0) {
		fprintf(stderr, "meshctl apply: %s: %s\n", dst, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (rc)
		unlink(tmp);
	return rc;
}

int cmd_apply(int argc, char **argv)
{
	struct load_opts o = { 0 };
	const char *dir = NULL;
	bool dry = false;
	char **files = argv + 1;
	int nfiles = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_VALID;
		}
		if (!strcmp(a, "--dry-run")) {
			dry = true;
			continue;
		}
		if (!strcmp(a, "--dir") || !strncmp(a, "--dir=", 6)) {
			if (a[5] == '=') {
				dir = a + 6;
			} else if (i + 1 < argc) {
				dir = argv[++i];
			} else {
				fprintf(stderr, "meshctl apply: --dir needs a value\n");
				return EXIT_USAGE;
			}
			continue;
		}
		if (a[0] == '-' && a[1]) {
			int r = parse_load_opt(argc, argv, &i, &o);
			if (r < 0)
				return EXIT_USAGE;
			if (r == 0) {
				fprintf(stderr, "meshctl apply: unknown option '%s'\n", a);
				usage(stderr);
				return EXIT_USAGE;
			}
			continue;
		}
		files[nfiles++] = argv[i];
	}
	if (!dir || !nfiles) {
		usage(stderr);
		return EXIT_USAGE;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "meshctl apply: %s is not a directory\n", dir);
		return EXIT_USAGE;
	}
	for (int i = 0; i < nfiles; i++) {
		struct stat fs;
		if (stat(files[i], &fs) != 0 || !S_ISREG(fs.st_mode) || !config_name(files[i]) ||
		    fs.st_size > APPLY_MAX_BYTES) {
			fprintf(stderr,
			        "meshctl apply: %s: not a readable .yaml, .yml or .json file "
			        "(of at most 64 MiB)\n",
			        files[i]);
			return EXIT_USAGE;
		}
		for (int j = 0; j < i; j++)
			if (!strcmp(base_name(files[i]), base_name(files[j]))) {
				fprintf(stderr, "meshctl apply: two files named %s\n",
				        base_name(files[i]));
				return EXIT_USAGE;
			}
	}
	mesh_config *cfg = NULL;
	mesh_diag *diag = NULL;
	if (mesh_diag_new(&diag) || mesh_config_new(&cfg)) {
		fprintf(stderr, "meshctl: out of memory\n");
		mesh_diag_free(diag);
		return EXIT_USAGE;
	}
	mesh_config_set_flags(cfg, o.flags);
	int rc = o.ns ? mesh_config_set_default_namespace(cfg, o.ns) : 0;
	int worst = rc;
	if (!rc)
		worst = load_dir_except(cfg, dir, true, files, nfiles, diag, 0);
	for (int i = 0; !rc && i < nfiles && worst != MESH_ENOMEM; i++) {
		int r = mesh_config_load_file(cfg, files[i], diag);
		if (r && (worst == 0 || r == MESH_EIO || r == MESH_ENOMEM))
			worst = r;
	}
	int status = EXIT_VALID;
	if (rc || worst == MESH_ENOMEM) {
		fprintf(stderr, "meshctl: out of memory\n");
		status = EXIT_USAGE;
	} else {
		print_report(&o, cfg, diag, "apply");
		if (worst == MESH_EIO)
			status = EXIT_USAGE;
		else if (mesh_diag_count_severity(diag, MESH_SEV_ERROR))
			status = EXIT_INVALID;
	}
	if (status == EXIT_VALID && !dry) {
		for (int i = 0; i < nfiles && status == EXIT_VALID; i++)
			if (put_file(dir, files[i]))
				status = EXIT_USAGE;
		if (status == EXIT_VALID && o.output == OUTPUT_TEXT)
			printf("applied %d file%s to %s\n", nfiles, nfiles == 1 ? "" : "s", dir);
	} else if (status == EXIT_VALID && o.output == OUTPUT_TEXT) {
		printf("dry run: nothing written\n");
	} else if (status == EXIT_INVALID && o.output == OUTPUT_TEXT) {
		printf("nothing written to %s\n", dir);
	}
	mesh_config_unref(cfg);
	mesh_diag_free(diag);
	return status;
}
