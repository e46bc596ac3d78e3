import KnotServiceKit

/// The Users service's public API as an OpenAPI 3.1 document (served at
/// `GET /api/v1/users/openapi.json`). `OpenAPIRouteTests` fails when a
/// route is registered under `/api/v1/users` without being listed here,
/// or listed here without being registered; the end-to-end fuzz test
/// (`Tests/EndToEnd/test_openapi_fuzz.py`) checks answers against the schemas.
/// The servers, sign-in schemes and error shape every area shares are added
/// by `OpenAPIDocument`.
enum UsersOpenAPI {
    static let document = OpenAPIDocument(json: #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Knot users",
    "version": "1",
    "description": "Accounts, teams, messages and the audit trail. Every route needs a signed-in caller; admin-only routes answer 403 to others."
  },
  "paths": {
    "/api/v1/users/integrations": {
      "get": {
        "summary": "The integrated tools configured here, as links for you (Notebooks, Workflows, Images, Code, Metrics); empty when none is configured",
        "tags": [
          "integrations"
        ],
        "responses": {
          "200": {
            "description": "The configured tools",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "integrations"
                  ],
                  "properties": {
                    "integrations": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "required": [
                          "id",
                          "tool",
                          "title",
                          "url"
                        ],
                        "properties": {
                          "id": {
                            "type": "string",
                            "enum": [
                              "notebooks",
                              "workflows",
                              "images",
                              "code",
                              "metrics"
                            ]
                          },
                          "tool": {
                            "type": "string",
                            "enum": [
                              "jupyterhub",
                              "argo",
                              "harbor",
                              "gitea",
                              "grafana"
                            ]
                          },
                          "title": {
                            "type": "string"
                          },
                          "url": {
                            "type": "string",
                            "format": "uri"
                          }
                        }
                      }
                    }
                  }
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
    "/api/v1/users/integrations/{tool}/config": {
      "get": {
        "summary": "The configuration Knot generates for a tool (admin only): jupyterhub_config.py, grafana.ini, Gitea's app.ini, or Gitea's set-up script",
        "tags": [
          "integrations"
        ],
        "parameters": [
          {
            "name": "tool",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "enum": [
                "jupyterhub",
                "grafana",
                "gitea",
                "gitea-setup"
              ]
            }
          }
        ],
        "responses": {
          "200": {
            "description": "The configuration file",
            "content": {
              "text/plain": {
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
    "/api/v1/users/me": {
      "get": {
        "summary": "Your own account",
        "tags": [
          "users"
        ],
        "responses": {
          "200": {
            "description": "The account",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
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
    "/api/v1/users/me/profile": {
      "get": {
        "summary": "Your account, teams and space",
        "tags": [
          "users"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Profile"
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
    "/api/v1/users": {
      "get": {
        "summary": "Everyone's accounts (admins)",
        "tags": [
          "users"
        ],
        "parameters": [
          {
            "name": "q",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "Matches username, name or e-mail (first 100 characters)"
          },
          {
            "name": "status",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "active",
                "inactive",
                "admin"
              ]
            }
          },
          {
            "name": "sort",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "username",
                "email",
                "name",
                "created",
                "last_login"
              ]
            }
          },
          {
            "name": "order",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "asc",
                "desc"
              ]
            }
          },
          {
            "$ref": "#/components/parameters/Limit"
          },
          {
            "name": "offset",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 0
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
                    "users": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/User"
                      }
                    }
                  },
                  "required": [
                    "users"
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
    "/api/v1/users/audit": {
      "get": {
        "summary": "The audit trail: all of it for admins, entries about yourself otherwise",
        "tags": [
          "users"
        ],
        "parameters": [
          {
            "name": "q",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "user",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "Admins: only entries about this person"
          },
          {
            "$ref": "#/components/parameters/Limit"
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
                    "entries": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/AuditEntry"
                      }
                    }
                  },
                  "required": [
                    "entries"
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
    "/api/v1/users/messages": {
      "get": {
        "summary": "Your messages (the latest 200) and how many are unread",
        "tags": [
          "users"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "messages": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Message"
                      }
                    },
                    "unread": {
                      "type": "integer"
                    }
                  },
                  "required": [
                    "messages",
                    "unread"
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
    "/api/v1/users/messages/read": {
      "post": {
        "summary": "Mark all your messages read",
        "tags": [
          "users"
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
                        "read"
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
    "/api/v1/users/messages/{id}/read": {
      "post": {
        "summary": "Mark one message read",
        "tags": [
          "users"
        ],
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "integer"
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
                        "read"
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
    "/api/v1/users/{username}": {
      "parameters": [
        {
          "$ref": "#/components/parameters/UsernamePath"
        }
      ],
      "get": {
        "summary": "One account with its teams and space (yourself, or anyone for admins)",
        "tags": [
          "users"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Profile"
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
        "summary": "Change an account's e-mail or name (admins)",
        "tags": [
          "users"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "email": {
                    "type": "string"
                  },
                  "full_name": {
                    "type": "string"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The account",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
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
        "summary": "Delete an account for good (admins): its services, space and sessions go",
        "tags": [
          "users"
        ],
        "parameters": [
          {
            "name": "confirm",
            "in": "query",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The username again"
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
    "/api/v1/users/{username}/activate": {
      "parameters": [
        {
          "$ref": "#/components/parameters/UsernamePath"
        }
      ],
      "post": {
        "summary": "Activate an account (admins)",
        "tags": [
          "users"
        ],
        "responses": {
          "200": {
            "description": "The account",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
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
    "/api/v1/users/{username}/deactivate": {
      "parameters": [
        {
          "$ref": "#/components/parameters/UsernamePath"
        }
      ],
      "post": {
        "summary": "Deactivate an account (admins): its sessions end, its services stop",
        "tags": [
          "users"
        ],
        "responses": {
          "200": {
            "description": "The account",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
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
    "/api/v1/users/{username}/promote": {
      "parameters": [
        {
          "$ref": "#/components/parameters/UsernamePath"
        }
      ],
      "post": {
        "summary": "Make an account an administrator (admins)",
        "tags": [
          "users"
        ],
        "responses": {
          "200": {
            "description": "The account",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
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
    "/api/v1/users/{username}/demote": {
      "parameters": [
        {
          "$ref": "#/components/parameters/UsernamePath"
        }
      ],
      "post": {
        "summary": "Take administrator rights away (admins)",
        "tags": [
          "users"
        ],
        "responses": {
          "200": {
            "description": "The account",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
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
    "/api/v1/users/{username}/reconcile": {
      "parameters": [
        {
          "$ref": "#/components/parameters/UsernamePath"
        }
      ],
      "post": {
        "summary": "Repair an account's space in the runtime now (admins)",
        "tags": [
          "users"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "state": {
                      "type": "string"
                    },
                    "changes": {
                      "type": "array",
                      "items": {
                        "type": "string"
                      }
                    }
                  },
                  "required": [
                    "state",
                    "changes"
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
    "/api/v1/users/teams": {
      "get": {
        "summary": "Your teams (admins: every team with ?all=1)",
        "tags": [
          "teams"
        ],
        "parameters": [
          {
            "name": "all",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "1"
              ]
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
                    "teams": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/TeamMembership"
                      }
                    }
                  },
                  "required": [
                    "teams"
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
        "summary": "Create a team, with you as its owner",
        "tags": [
          "teams"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "name": {
                    "type": "string",
                    "description": "Lowercase letters, digits and single hyphens"
                  },
                  "full_name": {
                    "type": "string"
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
                  "$ref": "#/components/schemas/Team"
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
    "/api/v1/users/teams/{team}": {
      "parameters": [
        {
          "$ref": "#/components/parameters/TeamPath"
        }
      ],
      "get": {
        "summary": "A team and its members (members and admins)",
        "tags": [
          "teams"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Team"
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
        "summary": "Delete a team (owners): its services and space go",
        "tags": [
          "teams"
        ],
        "parameters": [
          {
            "name": "confirm",
            "in": "query",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The team's name again"
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
    "/api/v1/users/teams/{team}/members": {
      "parameters": [
        {
          "$ref": "#/components/parameters/TeamPath"
        }
      ],
      "post": {
        "summary": "Add a member or change a member's role (owners)",
        "tags": [
          "teams"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "username": {
                    "type": "string"
                  },
                  "role": {
                    "type": "string",
                    "enum": [
                      "owner",
                      "editor",
                      "viewer"
                    ]
                  }
                },
                "required": [
                  "username",
                  "role"
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
                  "$ref": "#/components/schemas/Team"
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
    "/api/v1/users/teams/{team}/members/{username}": {
      "parameters": [
        {
          "$ref": "#/components/parameters/TeamPath"
        },
        {
          "$ref": "#/components/parameters/UsernamePath"
        }
      ],
      "delete": {
        "summary": "Leave a team, or remove a member (owners)",
        "tags": [
          "teams"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Team"
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
    "/api/v1/users/openapi.json": {
      "get": {
        "summary": "This document",
        "tags": [
          "meta"
        ],
        "operationId": "users_openapi",
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
      "User": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string",
            "format": "uuid"
          },
          "username": {
            "type": "string"
          },
          "email": {
            "type": "string"
          },
          "full_name": {
            "type": "string"
          },
          "active": {
            "type": "boolean"
          },
          "admin": {
            "type": "boolean"
          },
          "namespace": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "last_login": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "kind": {
            "type": "string",
            "enum": [
              "person",
              "team"
            ]
          }
        },
        "required": [
          "id",
          "username",
          "email",
          "full_name",
          "active",
          "admin",
          "namespace",
          "created_at",
          "kind"
        ]
      },
      "TeamMembership": {
        "type": "object",
        "properties": {
          "team": {
            "type": "string"
          },
          "team_id": {
            "type": "string",
            "format": "uuid"
          },
          "role": {
            "type": "string",
            "enum": [
              "owner",
              "editor",
              "viewer",
              "admin"
            ]
          }
        },
        "required": [
          "team",
          "team_id",
          "role"
        ]
      },
      "TeamMember": {
        "type": "object",
        "properties": {
          "username": {
            "type": "string"
          },
          "full_name": {
            "type": "string"
          },
          "role": {
            "type": "string",
            "enum": [
              "owner",
              "editor",
              "viewer"
            ]
          }
        },
        "required": [
          "username",
          "full_name",
          "role"
        ]
      },
      "Team": {
        "type": "object",
        "properties": {
          "team": {
            "$ref": "#/components/schemas/User"
          },
          "members": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/TeamMember"
            }
          }
        },
        "required": [
          "team",
          "members"
        ]
      },
      "Profile": {
        "type": "object",
        "properties": {
          "user": {
            "$ref": "#/components/schemas/User"
          },
          "teams": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/TeamMembership"
            }
          },
          "space": {
            "type": "object",
            "properties": {
              "state": {
                "type": "string"
              },
              "detail": {
                "type": "string"
              },
              "checked_at": {
                "type": [
                  "string",
                  "null"
                ],
                "format": "date-time"
              }
            },
            "required": [
              "state",
              "detail"
            ]
          }
        },
        "required": [
          "user",
          "teams",
          "space"
        ]
      },
      "Message": {
        "type": "object",
        "properties": {
          "id": {
            "type": "integer"
          },
          "kind": {
            "type": "string"
          },
          "text": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "read": {
            "type": "boolean"
          }
        },
        "required": [
          "id",
          "kind",
          "text",
          "created_at",
          "read"
        ]
      },
      "AuditEntry": {
        "type": "object",
        "properties": {
          "id": {
            "type": [
              "integer",
              "null"
            ]
          },
          "at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "actor": {
            "type": "string"
          },
          "action": {
            "type": "string"
          },
          "subject": {
            "type": [
              "string",
              "null"
            ]
          },
          "outcome": {
            "type": [
              "string",
              "null"
            ]
          },
          "detail": {
            "type": [
              "string",
              "null"
            ]
          }
        },
        "required": [
          "actor",
          "action"
        ]
      }
    },
    "parameters": {
      "Limit": {
        "name": "limit",
        "in": "query",
        "required": false,
        "schema": {
          "type": "integer",
          "minimum": 1,
          "maximum": 1000
        }
      },
      "UsernamePath": {
        "name": "username",
        "in": "path",
        "required": true,
        "schema": {
          "type": "string",
          "maxLength": 64
        },
        "description": "A person's username"
      },
      "TeamPath": {
        "name": "team",
        "in": "path",
        "required": true,
        "schema": {
          "type": "string",
          "maxLength": 64
        },
        "description": "A team's name"
      }
    }
  }
}
"""#)
}
