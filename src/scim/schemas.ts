/**
 * SCIM discovery documents (RFC 7643 §5–7, RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas.
 * They advertise exactly what Tessera implements: PATCH and filter yes; bulk, sort, ETag preconditions and
 * password change through `changePassword` no (passwords are write-only attributes of User).
 */

export const SCHEMA = {
  user: "urn:ietf:params:scim:schemas:core:2.0:User",
  group: "urn:ietf:params:scim:schemas:core:2.0:Group",
  listResponse: "urn:ietf:params:scim:api:messages:2.0:ListResponse",
  patchOp: "urn:ietf:params:scim:api:messages:2.0:PatchOp",
  searchRequest: "urn:ietf:params:scim:api:messages:2.0:SearchRequest",
  error: "urn:ietf:params:scim:api:messages:2.0:Error",
  serviceProviderConfig: "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
  resourceType: "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
  schema: "urn:ietf:params:scim:schemas:core:2.0:Schema",
} as const;

export const MAX_RESULTS = 1000;

type Attr = Record<string, unknown>;

function attr(name: string, options: Partial<Attr> & { type: string; description: string }): Attr {
  return {
    name,
    multiValued: false,
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...options,
  };
}

const USER_ATTRIBUTES: Attr[] = [
  attr("userName", {
    type: "string",
    required: true,
    uniqueness: "server",
    description: "Unique identifier for the user, used to sign in. Unique case-insensitively.",
  }),
  attr("name", {
    type: "complex",
    description: "The components of the user's name.",
    subAttributes: [
      attr("givenName", { type: "string", description: "Given name." }),
      attr("familyName", { type: "string", description: "Family name." }),
      attr("formatted", { type: "string", mutability: "readOnly", description: "Full name, for display." }),
    ],
  }),
  attr("displayName", { type: "string", description: "The name of the user, suitable for display." }),
  attr("active", {
    type: "boolean",
    description: "Whether the user can sign in. False ends all sessions at once.",
  }),
  attr("password", {
    type: "string",
    mutability: "writeOnly",
    returned: "never",
    description: "Write-only. Checked against the password policy; stored as an argon2id hash.",
  }),
  attr("emails", {
    type: "complex",
    multiValued: true,
    description: "E-mail addresses.",
    subAttributes: [
      attr("value", { type: "string", description: "The address." }),
      attr("type", { type: "string", canonicalValues: ["work", "home", "other"], description: "A label." }),
      attr("primary", { type: "boolean", description: "The preferred address (at most one)." }),
    ],
  }),
  attr("groups", {
    type: "complex",
    multiValued: true,
    mutability: "readOnly",
    description: "Groups the user belongs to; changed through the Group resource.",
    subAttributes: [
      attr("value", { type: "string", mutability: "readOnly", description: "Group id." }),
      attr("$ref", {
        type: "reference",
        referenceTypes: ["Group"],
        mutability: "readOnly",
        description: "URI.",
      }),
      attr("display", { type: "string", mutability: "readOnly", description: "Group displayName." }),
    ],
  }),
];

const GROUP_ATTRIBUTES: Attr[] = [
  attr("displayName", {
    type: "string",
    required: true,
    uniqueness: "server",
    description: "Name of the group, unique case-insensitively.",
  }),
  attr("members", {
    type: "complex",
    multiValued: true,
    description: "Users in the group (nested groups are not supported).",
    subAttributes: [
      attr("value", { type: "string", mutability: "immutable", description: "User id." }),
      attr("$ref", {
        type: "reference",
        referenceTypes: ["User"],
        mutability: "immutable",
        description: "URI.",
      }),
      attr("display", { type: "string", mutability: "readOnly", description: "The member's userName." }),
      attr("type", {
        type: "string",
        canonicalValues: ["User"],
        mutability: "immutable",
        description: "Kind.",
      }),
    ],
  }),
];

export function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: [SCHEMA.serviceProviderConfig],
    documentationUri: "https://github.com/tessera/tessera/blob/main/docs/scim.md",
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "Bearer token",
        description: "An admin token (TESSERA_ADMIN_TOKEN or one minted with `tessera admin-token create`).",
        primary: true,
      },
    ],
    meta: {
      resourceType: "ServiceProviderConfig",
      location: `${baseUrl}/ServiceProviderConfig`,
    },
  };
}

export function resourceTypes(baseUrl: string) {
  return [
    {
      schemas: [SCHEMA.resourceType],
      id: "User",
      name: "User",
      endpoint: "/Users",
      description: "User account",
      schema: SCHEMA.user,
      meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: [SCHEMA.resourceType],
      id: "Group",
      name: "Group",
      endpoint: "/Groups",
      description: "Group of users",
      schema: SCHEMA.group,
      meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
}

export function schemas(baseUrl: string) {
  return [
    {
      schemas: [SCHEMA.schema],
      id: SCHEMA.user,
      name: "User",
      description: "User account",
      attributes: USER_ATTRIBUTES,
      meta: { resourceType: "Schema", location: `${baseUrl}/Schemas/${SCHEMA.user}` },
    },
    {
      schemas: [SCHEMA.schema],
      id: SCHEMA.group,
      name: "Group",
      description: "Group of users",
      attributes: GROUP_ATTRIBUTES,
      meta: { resourceType: "Schema", location: `${baseUrl}/Schemas/${SCHEMA.group}` },
    },
  ];
}
