import KnotServiceKit

/// The Identity service's public API as an OpenAPI 3.1 document (served at
/// `GET /api/v1/identity/openapi.json`). `OpenAPIRouteTests` fails when a
/// route is registered under `/api/v1/identity` without being listed here,
/// or listed here without being registered; the end-to-end fuzz test
/// (`Tests/EndToEnd/test_openapi_fuzz.py`) checks answers against the schemas.
/// The servers, sign-in schemes and error shape every area shares are added
/// by `OpenAPIDocument`.
enum IdentityOpenAPI {
    static let document = OpenAPIDocument(json: #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Knot identity",
    "version": "1",
    "description": "Who is signed in, personal API tokens, passwords, and (admins) OAuth clients and signing keys. The sign-in pages, /auth/… and the OpenID Connect endpoints are described by OpenID Connect Discovery at /.well-known/openid-configuration, not here."
  },
  "paths": {
    "/api/v1/identity/session": {
      "get": {
        "summary": "Who the caller is: username, admin flag, the impersonating admin, a team role",
        "tags": [
          "identity"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Session"
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
    "/api/v1/identity/clients": {
      "get": {
        "summary": "The OAuth clients (admins)",
        "tags": [
          "clients"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "clients": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Client"
                      }
                    }
                  },
                  "required": [
                    "clients"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "post": {
        "summary": "Register an OAuth client (admins); a confidential client's secret is shown once",
        "tags": [
          "clients"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ClientRegistration"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Client"
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
    "/api/v1/identity/clients/{id}": {
      "parameters": [
        {
          "$ref": "#/components/parameters/IdPath"
        }
      ],
      "get": {
        "summary": "One OAuth client (admins)",
        "tags": [
          "clients"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Client"
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "patch": {
        "summary": "Change an OAuth client (admins; not one from the configuration file)",
        "tags": [
          "clients"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ClientRegistration"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Client"
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
        "summary": "Remove an OAuth client and its tokens (admins)",
        "tags": [
          "clients"
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
                      "type": "string",
                      "enum": [
                        "deleted"
                      ]
                    }
                  },
                  "required": [
                    "status"
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
    "/api/v1/identity/clients/{id}/secret": {
      "parameters": [
        {
          "$ref": "#/components/parameters/IdPath"
        }
      ],
      "post": {
        "summary": "Rotate a confidential client's secret (admins); shown once",
        "tags": [
          "clients"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Client"
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
    "/api/v1/identity/keys": {
      "get": {
        "summary": "The signing keys (admins)",
        "tags": [
          "keys"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "keys": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Key"
                      }
                    }
                  },
                  "required": [
                    "keys"
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
    "/api/v1/identity/keys/rotate": {
      "post": {
        "summary": "Make new signing keys now (admins)",
        "tags": [
          "keys"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "published": {
                      "type": "array",
                      "items": {
                        "type": "string"
                      }
                    }
                  },
                  "required": [
                    "published"
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
    "/api/v1/identity/tokens": {
      "get": {
        "summary": "Your personal API tokens (never their secrets)",
        "tags": [
          "tokens"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "tokens": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Token"
                      }
                    }
                  },
                  "required": [
                    "tokens"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "post": {
        "summary": "Make a personal API token; its secret is shown once",
        "tags": [
          "tokens"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "name": {
                    "type": "string"
                  },
                  "scope": {
                    "type": "string",
                    "enum": [
                      "read",
                      "full"
                    ]
                  },
                  "expires_in_days": {
                    "type": "integer",
                    "minimum": 1
                  }
                },
                "required": [
                  "name"
                ]
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Token"
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
    "/api/v1/identity/tokens/{id}": {
      "delete": {
        "summary": "Revoke one of your API tokens",
        "tags": [
          "tokens"
        ],
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "format": "uuid"
            }
          }
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
                      "type": "string",
                      "enum": [
                        "revoked"
                      ]
                    }
                  },
                  "required": [
                    "status"
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
    "/api/v1/identity/password": {
      "post": {
        "summary": "Change your own password (this session stays signed in; others end)",
        "tags": [
          "identity"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "current_password": {
                    "type": "string"
                  },
                  "new_password": {
                    "type": "string"
                  },
                  "csrf": {
                    "type": "string"
                  }
                },
                "required": [
                  "current_password",
                  "new_password"
                ]
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "status": {
                      "type": "string",
                      "enum": [
                        "changed"
                      ]
                    }
                  },
                  "required": [
                    "status"
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
    "/api/v1/identity/users/{username}/password": {
      "post": {
        "summary": "Reset a person's password (admins): a generated one, shown once; their sessions end",
        "tags": [
          "identity"
        ],
        "parameters": [
          {
            "name": "username",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 64
            }
          }
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "username": {
                      "type": "string"
                    },
                    "password": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "username",
                    "password"
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
    "/api/v1/identity/openapi.json": {
      "get": {
        "summary": "This document",
        "tags": [
          "meta"
        ],
        "operationId": "identity_openapi",
        "responses": {
          "200": {
            "description": "The OpenAPI document",
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
    "schemas": {
      "Client": {
        "type": "object",
        "properties": {
          "client_id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "public": {
            "type": "boolean"
          },
          "first_party": {
            "type": "boolean"
          },
          "redirect_uris": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "post_logout_redirect_uris": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "grant_types": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "scopes": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "access_token_seconds": {
            "type": [
              "integer",
              "null"
            ]
          },
          "id_token_signed_response_alg": {
            "type": "string"
          },
          "introspect_any": {
            "type": "boolean"
          },
          "knot_claims_in_id_token": {
            "type": "boolean"
          },
          "configured": {
            "type": "boolean"
          },
          "client_secret": {
            "type": "string",
            "description": "Only in the answer that makes or rotates it"
          }
        },
        "required": [
          "client_id",
          "name",
          "public",
          "redirect_uris"
        ]
      },
      "ClientRegistration": {
        "type": "object",
        "properties": {
          "client_id": {
            "type": "string",
            "description": "Empty or the same when changing a client"
          },
          "name": {
            "type": "string"
          },
          "public": {
            "type": "boolean"
          },
          "first_party": {
            "type": "boolean"
          },
          "redirect_uris": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "post_logout_redirect_uris": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "grant_types": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "scopes": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "access_token_seconds": {
            "type": [
              "integer",
              "null"
            ]
          },
          "id_token_signed_response_alg": {
            "type": "string"
          },
          "introspect_any": {
            "type": "boolean"
          },
          "knot_claims_in_id_token": {
            "type": "boolean"
          }
        },
        "required": [
          "client_id"
        ]
      },
      "Token": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string",
            "format": "uuid"
          },
          "name": {
            "type": "string"
          },
          "scope": {
            "type": "string",
            "enum": [
              "read",
              "full"
            ]
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "expires_at": {
            "type": "string",
            "format": "date-time"
          },
          "last_used_at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "token": {
            "type": "string",
            "description": "The secret itself: only in the answer that makes it"
          }
        },
        "required": [
          "id",
          "name",
          "scope",
          "created_at",
          "expires_at"
        ]
      },
      "Key": {
        "type": "object",
        "properties": {
          "kid": {
            "type": "string"
          },
          "algorithm": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "use_after": {
            "type": "string",
            "format": "date-time"
          },
          "signing": {
            "type": "boolean"
          }
        },
        "required": [
          "kid",
          "algorithm",
          "created_at",
          "use_after",
          "signing"
        ]
      },
      "Session": {
        "type": "object",
        "properties": {
          "username": {
            "type": "string"
          },
          "admin": {
            "type": "boolean"
          },
          "actor": {
            "type": [
              "string",
              "null"
            ]
          },
          "role": {
            "type": [
              "string",
              "null"
            ]
          }
        },
        "required": [
          "username",
          "admin"
        ]
      }
    },
    "parameters": {
      "IdPath": {
        "name": "id",
        "in": "path",
        "required": true,
        "schema": {
          "type": "string",
          "maxLength": 128
        },
        "description": "The client_id"
      }
    }
  }
}
"""#)
}
