// api_cpp.cpp - the public header compiles as C++ and links.
#include <mesh/mesh.h>
#include <cstring>

int main()
{
	mesh_config *cfg = nullptr;
	if (mesh_config_new(&cfg) != 0)
		return 1;
	const char *y = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
	                "metadata: {name: r}\nspec: {host: reviews}\n";
	int rc = mesh_config_load_buffer(cfg, "api.yaml", y, std::strlen(y), nullptr);
	mesh_config_unref(cfg);
	return rc == 0 ? 0 : 1;
}
