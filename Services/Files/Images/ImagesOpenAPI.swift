import KnotServiceKit

/// The images area's public API as an OpenAPI 3.1 document (served at
/// `GET /api/v1/images/openapi.json`); `OpenAPIRouteTests` holds it to the
/// routes `ImagesAPI` registers. The servers, sign-in schemes and error shape
/// every area shares are added by `OpenAPIDocument`.
enum ImagesOpenAPI {
    static let document = OpenAPIDocument(json: #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Knot images",
    "version": "1",
    "description": "The image registry (any Registry v2 server, Harbor too) as a person sees it: repositories, tags, manifests, pushing a docker save or OCI layout tar, and deleting (admins). Served by the files service; without KNOT_REGISTRY_API_URL every operation answers 404 not_configured."
  },
  "paths": {
    "/api/v1/images": {
      "get": {
        "summary": "The repositories you may see (yours under <user>/, library/; admins all)",
        "tags": [
          "images"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "registry": {
                      "type": "string"
                    },
                    "repositories": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "properties": {
                          "name": {
                            "type": "string"
                          }
                        },
                        "required": [
                          "name"
                        ]
                      }
                    }
                  },
                  "required": [
                    "registry",
                    "repositories"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/images/status": {
      "get": {
        "summary": "Whether a registry is configured, where, and where you may push",
        "tags": [
          "images"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "configured": {
                      "type": "string"
                    },
                    "registry": {
                      "type": "string"
                    },
                    "push_prefix": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "configured",
                    "registry",
                    "push_prefix"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/images/push": {
      "post": {
        "summary": "Push an image tar: from your files (JSON) or uploaded as the body (application/x-tar)",
        "tags": [
          "images"
        ],
        "description": "The archive is read and every blob's sha256 and size checked before anything is sent; a corrupt, truncated or mismatching tar is refused with 400 and the registry is not touched. With Accept: application/x-ndjson the answer is 200 and streams {event: verified|progress|done|error} lines.",
        "parameters": [
          {
            "name": "repository",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "With an uploaded tar: the repository"
          },
          {
            "name": "tag",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "With an uploaded tar: the tag (default: the archive's own, else latest)"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "domain": {
                    "type": "string",
                    "enum": [
                      "private",
                      "shared",
                      "admin"
                    ]
                  },
                  "path": {
                    "type": "string"
                  },
                  "repository": {
                    "type": "string"
                  },
                  "tag": {
                    "type": "string"
                  }
                },
                "required": [
                  "domain",
                  "path",
                  "repository"
                ]
              }
            },
            "application/x-tar": {
              "schema": {
                "type": "string",
                "format": "binary"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Pushed",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "repository": {
                      "type": "string"
                    },
                    "tag": {
                      "type": "string"
                    },
                    "digest": {
                      "type": "string"
                    },
                    "media_type": {
                      "type": "string"
                    },
                    "size": {
                      "type": "integer"
                    },
                    "format": {
                      "type": "string",
                      "enum": [
                        "oci",
                        "docker-save"
                      ]
                    },
                    "blobs_uploaded": {
                      "type": "integer"
                    },
                    "blobs_present": {
                      "type": "integer"
                    }
                  },
                  "required": [
                    "repository",
                    "tag",
                    "digest",
                    "media_type",
                    "size",
                    "format",
                    "blobs_uploaded",
                    "blobs_present"
                  ]
                }
              }
            }
          },
          "200": {
            "description": "Progress lines (Accept: application/x-ndjson)",
            "content": {
              "application/x-ndjson": {
                "schema": {
                  "type": "string"
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/images/{repository}/tags": {
      "x-knot-route": "/api/v1/images/**",
      "parameters": [
        {
          "$ref": "#/components/parameters/RepositoryPath"
        }
      ],
      "get": {
        "summary": "A repository's tags with digest, size, date and platform",
        "tags": [
          "images"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "repository": {
                      "type": "string"
                    },
                    "tags": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "properties": {
                          "tag": {
                            "type": "string"
                          },
                          "digest": {
                            "type": "string"
                          },
                          "media_type": {
                            "type": "string"
                          },
                          "size": {
                            "type": [
                              "integer",
                              "null"
                            ],
                            "description": "config plus layers, as stored"
                          },
                          "created": {
                            "type": [
                              "string",
                              "null"
                            ],
                            "description": "from the image config"
                          },
                          "platform": {
                            "type": [
                              "string",
                              "null"
                            ]
                          }
                        },
                        "required": [
                          "tag",
                          "digest",
                          "media_type"
                        ]
                      }
                    }
                  },
                  "required": [
                    "repository",
                    "tags"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/images/{repository}/manifests/{reference}": {
      "x-knot-route": "/api/v1/images/**",
      "parameters": [
        {
          "$ref": "#/components/parameters/RepositoryPath"
        },
        {
          "name": "reference",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "A tag, or a digest sha256:<64 hex>"
        }
      ],
      "get": {
        "summary": "The manifest, byte for byte (Docker-Content-Digest names it)",
        "tags": [
          "images"
        ],
        "responses": {
          "200": {
            "description": "The manifest",
            "content": {
              "application/vnd.oci.image.manifest.v1+json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "delete": {
        "summary": "Delete an image (admins): a tag is resolved to its digest, and every tag on it goes",
        "tags": [
          "images"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "status": {
                      "type": "string"
                    },
                    "repository": {
                      "type": "string"
                    },
                    "digest": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "status",
                    "repository",
                    "digest"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/images/openapi.json": {
      "get": {
        "summary": "This document",
        "tags": [
          "images"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    }
  },
  "components": {
    "schemas": {},
    "parameters": {
      "RepositoryPath": {
        "name": "repository",
        "in": "path",
        "required": true,
        "schema": {
          "type": "string"
        },
        "description": "The repository (alice/app); percent-encode it as one segment, or give its slashes"
      }
    }
  }
}
"""#)
}
