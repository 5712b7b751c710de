// Key Vault for the two secrets; the app reads them through Key Vault references.

param location string

@description('Vault name (3-24 letters, digits and hyphens).')
param name string

@secure()
param twitchClientSecret string

@secure()
param snowflakePrivateKey string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Access by Azure RBAC: the app's identity gets Key Vault Secrets User.
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

resource twitch 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'twitch-client-secret'
  properties: {
    value: twitchClientSecret
  }
}

resource snowflake 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'snowflake-private-key'
  properties: {
    value: snowflakePrivateKey
  }
}

output name string = vault.name
output twitchClientSecretUri string = twitch.properties.secretUri
output snowflakePrivateKeyUri string = snowflake.properties.secretUri
