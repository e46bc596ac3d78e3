import KnotServiceKit

/// The Launcher service's public API as an OpenAPI 3.1 document (served at
/// `GET /api/v1/launcher/openapi.json`). `OpenAPIRouteTests` fails when a
/// route is registered under `/api/v1/launcher` without being listed here,
/// or listed here without being registered; the end-to-end fuzz test
/// (`Tests/EndToEnd/test_openapi_fuzz.py`) checks answers against the schemas.
/// The servers, sign-in schemes and error shape every area shares are added
/// by `OpenAPIDocument`.
enum LauncherOpenAPI {
    static let document = OpenAPIDocument(json: #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Knot launcher",
    "version": "1",
    "description": "The template catalogue and the services people run from it."
  },
  "paths": {
    "/api/v1/launcher/templates": {
      "get": {
        "summary": "The template catalogue as you see it (built-in, admin, shared, your own)",
        "tags": [
          "templates"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "templates": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Template"
                      }
                    },
                    "warning": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "templates"
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
        "summary": "Save a template (YAML) in your private services folder",
        "tags": [
          "templates"
        ],
        "parameters": [
          {
            "name": "id",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The template's id; made from its name when absent"
          },
          {
            "name": "overwrite",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "1",
                "true",
                "yes"
              ]
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/yaml": {
              "schema": {
                "type": "string"
              }
            },
            "text/yaml": {
              "schema": {
                "type": "string"
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
                  "$ref": "#/components/schemas/Template"
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
    "/api/v1/launcher/templates/{id}": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string",
            "maxLength": 128
          },
          "description": "A template id"
        }
      ],
      "get": {
        "summary": "One template: its summary, or with ?format=yaml its YAML source",
        "tags": [
          "templates"
        ],
        "parameters": [
          {
            "name": "format",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "json",
                "yaml"
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
                  "$ref": "#/components/schemas/Template"
                }
              },
              "application/yaml": {
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
      },
      "delete": {
        "summary": "Delete one of your own private templates",
        "tags": [
          "templates"
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
    "/api/v1/launcher/services": {
      "get": {
        "summary": "Your services",
        "tags": [
          "services"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "services": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Service"
                      }
                    }
                  },
                  "required": [
                    "services"
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
        "summary": "Launch a service from a template",
        "tags": [
          "services"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "template": {
                    "type": "string"
                  },
                  "values": {
                    "type": "object",
                    "additionalProperties": {
                      "type": "string"
                    }
                  }
                },
                "required": [
                  "template"
                ]
              }
            }
          }
        },
        "responses": {
          "202": {
            "description": "Accepted: starting",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Service"
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
    "/api/v1/launcher/services/events": {
      "get": {
        "summary": "Your services' changes as server-sent events (a snapshot, then service and deleted events)",
        "tags": [
          "services"
        ],
        "responses": {
          "200": {
            "description": "An endless event stream",
            "content": {
              "text/event-stream": {
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
    "/api/v1/launcher/services/{name}": {
      "parameters": [
        {
          "$ref": "#/components/parameters/NamePath"
        }
      ],
      "get": {
        "summary": "One service, with what the runtime reports now",
        "tags": [
          "services"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Service"
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
        "summary": "Remove a service",
        "tags": [
          "services"
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
    "/api/v1/launcher/services/{name}/stop": {
      "parameters": [
        {
          "$ref": "#/components/parameters/NamePath"
        }
      ],
      "post": {
        "summary": "Stop a service (its address stays, marked stopped)",
        "tags": [
          "services"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Service"
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
    "/api/v1/launcher/services/{name}/start": {
      "parameters": [
        {
          "$ref": "#/components/parameters/NamePath"
        }
      ],
      "post": {
        "summary": "Start a stopped service",
        "tags": [
          "services"
        ],
        "responses": {
          "200": {
            "description": "Already running",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Service"
                }
              }
            }
          },
          "202": {
            "description": "Starting",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Service"
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
    "/api/v1/launcher/services/{name}/upgrade": {
      "parameters": [
        {
          "$ref": "#/components/parameters/NamePath"
        }
      ],
      "post": {
        "summary": "Move a service to its template's newest version",
        "tags": [
          "services"
        ],
        "responses": {
          "202": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Service"
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
    "/api/v1/launcher/services/{name}/events": {
      "parameters": [
        {
          "$ref": "#/components/parameters/NamePath"
        }
      ],
      "get": {
        "summary": "The runtime's recent events about a service",
        "tags": [
          "services"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "events": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Event"
                      }
                    }
                  },
                  "required": [
                    "events"
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
    "/api/v1/launcher/services/{name}/logs": {
      "parameters": [
        {
          "$ref": "#/components/parameters/NamePath"
        }
      ],
      "get": {
        "summary": "A service's log (the last lines, or followed)",
        "tags": [
          "services"
        ],
        "parameters": [
          {
            "name": "tail",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 0
            }
          },
          {
            "name": "follow",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "1",
                "true",
                "yes",
                "0",
                "false"
              ]
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Plain text",
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
    "/api/v1/launcher/openapi.json": {
      "get": {
        "summary": "This document",
        "tags": [
          "meta"
        ],
        "operationId": "launcher_openapi",
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
      "Variable": {
        "type": "object",
        "properties": {
          "name": {
            "type": "string"
          },
          "default": {
            "type": "string"
          },
          "title": {
            "type": [
              "string",
              "null"
            ]
          },
          "help": {
            "type": [
              "string",
              "null"
            ]
          },
          "hidden": {
            "type": "boolean"
          },
          "choices": {
            "type": [
              "array",
              "null"
            ],
            "items": {
              "type": "string"
            }
          },
          "type": {
            "type": "string",
            "enum": [
              "string",
              "integer",
              "boolean",
              "choice"
            ]
          }
        },
        "required": [
          "name",
          "default"
        ]
      },
      "Template": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "description": {
            "type": "string"
          },
          "singleton": {
            "type": "boolean"
          },
          "source": {
            "type": "string"
          },
          "version": {
            "type": "string"
          },
          "runtime": {
            "type": "string"
          },
          "available": {
            "type": "boolean"
          },
          "unavailable_reason": {
            "type": [
              "string",
              "null"
            ]
          },
          "problem": {
            "type": [
              "string",
              "null"
            ]
          },
          "public": {
            "type": "boolean"
          },
          "replaces": {
            "type": [
              "string",
              "null"
            ]
          },
          "modified": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "variables": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Variable"
            }
          }
        },
        "required": [
          "id",
          "name",
          "description",
          "singleton",
          "source",
          "version",
          "runtime",
          "available",
          "public",
          "variables"
        ]
      },
      "Service": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string",
            "format": "uuid"
          },
          "owner": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "template": {
            "type": "string"
          },
          "template_version": {
            "type": "string"
          },
          "host": {
            "type": "string"
          },
          "url": {
            "type": "string"
          },
          "values": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "status": {
            "type": "string",
            "description": "starting, ready, failed, stopping, stopped, …"
          },
          "reason": {
            "type": "string"
          },
          "message": {
            "type": "string"
          },
          "ready_replicas": {
            "type": "integer"
          },
          "desired_replicas": {
            "type": "integer"
          },
          "restarts": {
            "type": "integer"
          },
          "public": {
            "type": "boolean"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "updated_at": {
            "type": "string",
            "format": "date-time"
          },
          "started_at": {
            "type": "string",
            "format": "date-time"
          },
          "last_activity": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "cull_after": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "expires_at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "upgrade_available": {
            "type": "boolean"
          },
          "latest_version": {
            "type": [
              "string",
              "null"
            ]
          },
          "details": {
            "type": "object",
            "description": "What the runtime reports: parts, pods, events"
          }
        },
        "required": [
          "id",
          "owner",
          "name",
          "template",
          "template_version",
          "host",
          "url",
          "values",
          "status",
          "reason",
          "message",
          "ready_replicas",
          "desired_replicas",
          "restarts",
          "public",
          "created_at",
          "updated_at",
          "started_at",
          "upgrade_available"
        ]
      },
      "Event": {
        "type": "object",
        "properties": {
          "type": {
            "type": "string"
          },
          "reason": {
            "type": "string"
          },
          "message": {
            "type": "string"
          },
          "object": {
            "type": "string"
          },
          "count": {
            "type": "integer"
          },
          "lastSeen": {
            "type": "string"
          }
        },
        "required": [
          "type",
          "reason",
          "message"
        ]
      }
    },
    "parameters": {
      "NamePath": {
        "name": "name",
        "in": "path",
        "required": true,
        "schema": {
          "type": "string",
          "maxLength": 128
        },
        "description": "A service's name"
      }
    }
  }
}
"""#)
}
