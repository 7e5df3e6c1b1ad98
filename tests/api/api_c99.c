/* api_c99.c - the public header compiles as pedantic C99 and links. */
#include <mesh/mesh.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	mesh_config *cfg = NULL;
	mesh_diag *d = NULL;
	const char *y = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
			"metadata: {name: r}\nspec: {host: reviews}\n";
	if (mesh_config_new(&cfg) || mesh_diag_new(&d))
		return 1;
	if (mesh_config_load_buffer(cfg, "api.yaml", y, strlen(y), d) != 0)
		return 1;
	if (mesh_config_resource_count(cfg) != 1)
		return 1;
	if (mesh_mtls_mode(cfg, "default", NULL, 0, NULL) != MESH_MTLS_PERMISSIVE ||
	    strcmp(mesh_config_trust_domain(cfg), "cluster.local"))
		return 1;
	printf("libmesh %s: %s\n", mesh_version(), mesh_strerror(MESH_OK));
	mesh_diag_free(d);
	mesh_config_unref(cfg);
	return 0;
}
