/*
 * mesh/mesh.h - umbrella header: include this to use libmesh.
 */
#ifndef MESH_MESH_H
#define MESH_MESH_H

#include <mesh/core.h>
#include <mesh/diag.h>
#include <mesh/config.h>
#include <mesh/registry.h>
#include <mesh/route.h>
#include <mesh/lb.h>
#include <mesh/identity.h>
#include <mesh/security.h>
#include <mesh/proxy.h>

#endif
